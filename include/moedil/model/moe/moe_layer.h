#pragma once
// An MoE MLP for transformer tokens: a router picks top-k of the unshared experts per row (a
// token, or a whole image), sparse grouped dispatch runs them, always-on shared experts add
// their output. Options: noisy top-k, expert dropout, token or expert choice with a capacity
// (overflow rows dropped), selectable balance losses. Keeps its balance loss, per-expert usage
// counts and dropped-row counts (training and evaluation apart).
#include <map>
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/feed_forward.h"
#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

struct MoeLayerOptions {
  MoeLayerOptions(int64_t dim, int64_t hidden, int64_t num_experts)
      : dim_(dim), hidden_(hidden), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);       ///< hidden width of each expert MLP
  /// Routed (unshared) experts; 0: no router, the layer is the plain sum of its shared experts
  /// (the predecessor's shared-experts-only layer; num_shared >= 1).
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(int64_t, num_shared) = 0;
  TORCH_ARG(int64_t, top_k) = 1;
  /// "token": every token routed on its own; "sample": one decision per image (all its tokens
  /// go to the same experts), taken from the CLS token (route_with_cls) or the token mean.
  TORCH_ARG(std::string, granularity) = "token";
  TORCH_ARG(bool, route_with_cls) = true;
  /// The chosen experts' gates divided by their sum for every k (top-1: 1), see RouterOptions.
  TORCH_ARG(bool, renormalize_gates) = false;
  TORCH_ARG(double, dropout) = 0.0;
  /// Training only: Gaussian noise on the router logits (noisy top-k).
  TORCH_ARG(double, noise_std) = 0.0;
  /// Training only: probability that an expert is unavailable for a forward.
  TORCH_ARG(double, expert_dropout) = 0.0;
  /// "token_choice": each row picks its top-k experts; "expert_choice": each expert takes its
  /// top-C rows (every expert exactly C = min(C, rows)).
  TORCH_ARG(std::string, routing) = "token_choice";
  /// Expert capacity C = ceil(capacity_factor * rows * k / num_experts). 0: unlimited for
  /// token choice (no dropping), factor 1 for expert choice. Rows left with no expert are dropped:
  /// the layer adds only the shared experts' output for them (the block's residual carries them).
  TORCH_ARG(double, capacity_factor) = 0.0;
  /// The balance losses summed into balance_loss(), each with its weight.
  TORCH_ARG(BalanceWeights, balance_losses) = BalanceWeights{{"switch", 1.0}};
};

class MoeLayerImpl : public torch::nn::Cloneable<MoeLayerImpl> {
 public:
  explicit MoeLayerImpl(const MoeLayerOptions& options);
  void reset() override;

  /// x [B, T, dim] -> [B, T, dim]
  at::Tensor forward(const at::Tensor& x);
  /// Same result with every expert run on every row (test reference).
  at::Tensor forward_dense(const at::Tensor& x);
  /// Whether forward on the first token of each image alone gives forward's first token, the
  /// same routing, usage and balance loss: the experts are tokenwise MLPs and each image is
  /// routed on its CLS token (or there is no router), no dropout is drawn and no balance loss
  /// reads the experts' outputs.
  bool first_token_suffices() const;

  // The routing core's state, see Mixture (usage counts, dropped rows and routing entropy are
  // kept for training and evaluation apart; the entropy is of the router's distribution
  // before noise: log(E) for a uniform router, 0 for a certain one).
  const at::Tensor& balance_loss() const { return mixture.balance_loss(); }
  std::vector<int64_t> usage(bool training) const { return mixture.usage(training); }
  void reset_usage(bool training) { mixture.reset_usage(training); }
  double dropped_fraction(bool training) const { return mixture.dropped_fraction(training); }
  double routing_entropy(bool training) const { return mixture.routing_entropy(training); }
  /// Routes every row to expert `e` alone (-1: route normally again), see Mixture.
  void force_expert(int64_t e) { mixture.force_expert(e); }
  int64_t forced_expert() const { return mixture.forced_expert(); }

  MoeLayerOptions options;
  Router router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  torch::nn::ModuleList shared_experts{nullptr};
  Mixture mixture{MixtureOptions(1)};

 private:
  at::Tensor run(const at::Tensor& x, bool dense);
};
TORCH_MODULE(MoeLayer);

}  // namespace moedil::model::moe
