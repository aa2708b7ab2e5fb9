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
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

/// Balance-loss name (see balance_loss_names()) -> weight.
using BalanceWeights = std::map<std::string, double>;

struct MoeLayerOptions {
  MoeLayerOptions(int64_t dim, int64_t hidden, int64_t num_experts)
      : dim_(dim), hidden_(hidden), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);       ///< hidden width of each expert MLP
  TORCH_ARG(int64_t, num_experts);  ///< routed (unshared) experts
  TORCH_ARG(int64_t, num_shared) = 0;
  TORCH_ARG(int64_t, top_k) = 1;
  /// "token": every token routed on its own; "sample": one decision per image (all its tokens
  /// go to the same experts), taken from the CLS token (route_with_cls) or the token mean.
  TORCH_ARG(std::string, granularity) = "token";
  TORCH_ARG(bool, route_with_cls) = true;
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

  /// Weighted balance losses of the last training forward; undefined after an evaluation forward.
  const at::Tensor& balance_loss() const { return balance_loss_; }
  /// Rows routed to each expert since the last reset, in training or in evaluation.
  std::vector<int64_t> usage(bool training) const;
  void reset_usage(bool training);
  /// Fraction of the rows since the last reset that went to no routed expert (capacity
  /// overflow or expert choice); 0 when no rows were seen.
  double dropped_fraction(bool training) const;
  /// Mean over the rows since the last reset of the entropy (nats) of the router's
  /// distribution over experts, before noise and dropout: log(E) for a uniform router, 0 for
  /// a certain one; 0 when no rows were seen. Accumulated on the device, read here.
  double routing_entropy(bool training) const;
  /// Routes every row to expert `e` alone (-1: route normally again), for analysis (`moedil
  /// eval --fixed-expert`). The gate follows the router's rule: the router's probability of e
  /// when top_k is 1, 1 otherwise; capacity does not apply. Throws UsageError for e outside
  /// [-1, num_experts).
  void force_expert(int64_t e);
  int64_t forced_expert() const { return forced_expert_; }

  MoeLayerOptions options;
  Router router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  torch::nn::ModuleList shared_experts{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, bool dense);

  at::Tensor balance_loss_;
  at::Tensor train_counts_;
  at::Tensor eval_counts_;
  int64_t dropped_[2] = {0, 0};  ///< [evaluation, training] rows dropped since the reset
  int64_t rows_[2] = {0, 0};     ///< [evaluation, training] rows seen since the reset
  int64_t forced_expert_ = -1;
  at::Tensor entropy_sum_[2];  ///< [evaluation, training] summed per-row routing entropy
};
TORCH_MODULE(MoeLayer);

}  // namespace moedil::model::moe
