#pragma once
// An MoE MLP for transformer tokens: a router picks top-k of the unshared experts per row (a
// token, or a whole image), sparse grouped dispatch runs them, always-on shared experts add
// their output. Keeps its switch balance loss and per-expert usage counts (training and
// evaluation apart).
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/feed_forward.h"
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

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
};

class MoeLayerImpl : public torch::nn::Cloneable<MoeLayerImpl> {
 public:
  explicit MoeLayerImpl(const MoeLayerOptions& options);
  void reset() override;

  /// x [B, T, dim] -> [B, T, dim]
  at::Tensor forward(const at::Tensor& x);
  /// Same result with every expert run on every row (test reference).
  at::Tensor forward_dense(const at::Tensor& x);

  /// Switch balance loss of the last training forward; undefined after an evaluation forward.
  const at::Tensor& balance_loss() const { return balance_loss_; }
  /// Rows routed to each expert since the last reset, in training or in evaluation.
  std::vector<int64_t> usage(bool training) const;
  void reset_usage(bool training);

  MoeLayerOptions options;
  Router router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  torch::nn::ModuleList shared_experts{nullptr};

 private:
  at::Tensor run(const at::Tensor& x, bool dense);

  at::Tensor balance_loss_;
  at::Tensor train_counts_;
  at::Tensor eval_counts_;
};
TORCH_MODULE(MoeLayer);

}  // namespace moedil::model::moe
