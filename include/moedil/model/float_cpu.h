#pragma once
// The operand check moedil's own CPU kernels share (linear layers, layer norm).
#include <ATen/core/Tensor.h>

namespace moedil::model {

/// t is defined, float32, strided, contiguous and on the CPU.
inline bool float_cpu_contiguous(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.layout() == at::kStrided && t.is_contiguous();
}

}  // namespace moedil::model
