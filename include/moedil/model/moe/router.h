#pragma once
// Linear top-k router: softmax over expert logits, the k most probable experts per row.
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
};

/// The routing of R rows.
struct Routing {
  at::Tensor probs;       ///< [R, E] softmax of the router logits
  at::Tensor expert_idx;  ///< [R, k] int64, the chosen experts, most probable first
  at::Tensor gates;       ///< [R, k] weights of the chosen experts' outputs
};

/// Gates are the chosen experts' probabilities; with k > 1 they are renormalised to sum to 1
/// (k = 1 keeps the raw probability, as Switch does, so the router receives a gradient).
class RouterImpl : public torch::nn::Cloneable<RouterImpl> {
 public:
  explicit RouterImpl(const RouterOptions& options);
  void reset() override;
  /// rows [R, dim] -> Routing
  Routing forward(const at::Tensor& rows);

  RouterOptions options;
  torch::nn::Linear gate{nullptr};
};
TORCH_MODULE(Router);

}  // namespace moedil::model::moe
