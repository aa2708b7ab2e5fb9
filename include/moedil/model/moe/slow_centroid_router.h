#pragma once
// The predecessor's image-level router (its vit_moe_imagelevel, "variant 1"): hard top-1 routing
// of each image to the expert whose SLOW centroid is nearest (cosine) to the image's routing
// vector z. No learnable parameter: the centroids are buffers (saved in checkpoints, never
// optimised), so no gradient reaches the routing and the gate is a constant 1.
//   expert(b) = argmax_e cos(z_b, slow_e)
// Two centroid sets per expert, fast and slow, start as a normalised normal draw (the default
// generator). The first TRAINING forward replaces both by the normalised routing vectors of its
// first E images (repeated in order when the batch has fewer). After each training forward's
// routing decision, without gradient, every expert e that received images moves both sets:
//   m_e = mean over its images of z / |z|
//   c_e <- alpha c_e + (1 - alpha) m_e     (alpha: the keep rate, alpha_fast or alpha_slow)
// and then every centroid is scaled back to unit length. An evaluation forward routes the same
// way and changes nothing (the predecessor also initialised and moved the centroids in
// evaluation, on test images: README "differences from the predecessor").
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

struct SlowCentroidRouterOptions {
  SlowCentroidRouterOptions(int64_t dim, int64_t num_experts)
      : dim_(dim), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);  ///< width of the routing vectors
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(double, alpha_fast) = 0.8;   ///< keep rate of the fast centroids, in [0, 1]
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids, in [0, 1]
};

class SlowCentroidRouterImpl : public torch::nn::Module {
 public:
  /// Throws c10::Error for non-positive sizes or keep rates outside [0, 1].
  explicit SlowCentroidRouterImpl(const SlowCentroidRouterOptions& options);

  /// z [B, dim] -> Routing over B rows: logits = cos(z, slow) [B, E], probs = the one-hot of
  /// the chosen expert, expert_idx [B, 1], gates = 1 [B, 1], available all true. Nothing in it
  /// carries a gradient. A training forward then initialises (first time) and moves the
  /// centroids as described above.
  Routing forward(const at::Tensor& z);

  /// Whether a training forward has initialised the centroids from data (read from the buffer
  /// until it is true, so a loaded checkpoint counts; no device sync after that).
  bool initialized();

  SlowCentroidRouterOptions options;
  at::Tensor fast_centroids;  ///< buffer [E, dim], unit rows
  at::Tensor slow_centroids;  ///< buffer [E, dim], unit rows
 private:
  at::Tensor initialized_;  ///< buffer, bool scalar: saved with the centroids
  bool initialized_seen_ = false;  ///< the buffer was read true once
};
TORCH_MODULE(SlowCentroidRouter);

}  // namespace moedil::model::moe
