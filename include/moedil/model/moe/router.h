#pragma once
// Linear top-k router: softmax over expert logits, the k most probable experts per row.
// In training only: Gaussian noise on the logits (noisy top-k) and expert dropout (a random
// subset of experts unavailable for the step). Randomness comes from LibTorch's default
// generator; in evaluation (module not training) there is no noise and every expert is available.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace moedil::model::moe {

struct RouterOptions {
  RouterOptions(int64_t dim, int64_t num_experts) : dim_(dim), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(int64_t, top_k) = 1;
  /// Training only: logits += noise_std * N(0, 1) before the softmax and the top-k.
  TORCH_ARG(double, noise_std) = 0.0;
  /// Training only: each expert is unavailable for a forward with this probability; the top_k
  /// experts with the largest draws always stay available, so every row can be routed.
  TORCH_ARG(double, expert_dropout) = 0.0;
  /// Gates of the chosen experts divided by their sum for every k, so a top-1 gate is 1 and the
  /// task loss does not reach the router (the predecessor's vit_moe); false: only for k > 1
  /// (a top-1 gate is the chosen probability, as in Switch).
  TORCH_ARG(bool, renormalize) = false;
};

/// The routing of R rows.
struct Routing {
  at::Tensor logits;      ///< [R, E] the router logits, before noise and expert dropout (z-loss)
  at::Tensor probs;       ///< [R, E] softmax of the (noisy, masked) logits; 0 for dropped experts
  at::Tensor expert_idx;  ///< [R, k] int64, the chosen experts, most probable first
  at::Tensor gates;       ///< [R, k] weights of the chosen experts' outputs
  at::Tensor available;   ///< bool [E] experts available in this forward (expert dropout)
};

/// Gates are the chosen experts' probabilities; with k > 1 they are renormalised to sum to 1
/// (k = 1 keeps the raw probability, as Switch does, so the router receives a gradient).
class RouterImpl : public torch::nn::Cloneable<RouterImpl> {
 public:
  explicit RouterImpl(const RouterOptions& options);
  void reset() override;
  /// rows [R, dim] -> Routing
  Routing forward(const at::Tensor& rows);
  /// Availability mask of the experts for one training forward (bool [E]), drawn from the
  /// default generator; all true when expert_dropout is 0.
  at::Tensor draw_available() const;

  RouterOptions options;
  torch::nn::Linear gate{nullptr};
};
TORCH_MODULE(Router);

}  // namespace moedil::model::moe
