#pragma once
// Mixed precision and backend switches for the training device (config `amp`).
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace moedil::train {

/// While alive, ops of `device`'s type autocast to bfloat16 when amp is "bf16" (matmuls,
/// convolutions and linears in bf16, reductions and losses in float; weights stay float); "none"
/// changes nothing. Restores the previous autocast state on destruction. Works on CPU and CUDA
/// alike, so the CUDA path is compiled and tested in the CPU build.
class AutocastGuard {
 public:
  AutocastGuard(const std::string& amp, c10::Device device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Float;
};

/// Backend settings for a run on `device`: on CUDA, cuDNN benchmark mode (picks the fastest
/// convolution algorithms for the fixed batch shapes). Nothing on CPU.
void configure_backends(c10::Device device);

}  // namespace moedil::train
