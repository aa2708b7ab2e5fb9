#pragma once
// Training augmentation on whole batches (no per-sample loop), every image with its own
// parameters drawn from portable seeded generators, in the predecessor's order: random resized
// crop, padded random crop, horizontal flip, colour jitter, Gaussian blur, Gaussian noise.
#include <cstdint>

#include <ATen/ATen.h>

#include "moedil/config/run_config.h"

namespace moedil::data {

class Augmenter {
 public:
  explicit Augmenter(const config::AugmentationConfig& c) : config_(c) {}
  bool enabled() const;
  /// Whether a crop whose output side is config.crop_size is on (that side must be the images').
  bool crops() const { return config_.random_resize_crop || config_.random_crop_padding > 0; }
  /// ConfigError unless images of height x width suit the steps: a crop with crop_size > 0
  /// needs that side, random_resize_crop square images. operator() checks every batch; a run
  /// checks once before it starts.
  void check_image_size(int64_t height, int64_t width) const;
  /// images uint8 [B, C, H, W] -> augmented [B, C, H, W] on the same device: uint8 when only
  /// the padded crop and the flip are on, else float on the same 0..255 scale (not rounded;
  /// noise is not clamped). The same seed gives the same result. ConfigError when a crop is on
  /// and crop_size (> 0) is not the images' side.
  at::Tensor operator()(const at::Tensor& images, uint64_t seed) const;

 private:
  config::AugmentationConfig config_;
};

}  // namespace moedil::data
