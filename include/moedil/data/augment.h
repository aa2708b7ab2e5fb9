#pragma once
// Training augmentation on whole uint8 batches (no per-sample loop): random crop with zero
// padding and random horizontal flip, drawn from a portable seeded generator.
#include <cstdint>

#include <ATen/ATen.h>

#include "moedil/config/run_config.h"

namespace moedil::data {

class Augmenter {
 public:
  explicit Augmenter(const config::AugmentationConfig& c) : config_(c) {}
  bool enabled() const { return config_.random_crop_padding > 0 || config_.horizontal_flip; }
  /// images uint8 [B, C, H, W] -> augmented uint8 [B, C, H, W] on the same device; the same
  /// seed gives the same result.
  at::Tensor operator()(const at::Tensor& images, uint64_t seed) const;

 private:
  config::AugmentationConfig config_;
};

}  // namespace moedil::data
