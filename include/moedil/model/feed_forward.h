#pragma once
// The transformer MLP: Linear -> GELU -> Dropout -> Linear -> Dropout. Also the MoE expert.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace moedil::model {

struct FeedForwardOptions {
  FeedForwardOptions(int64_t dim, int64_t hidden) : dim_(dim), hidden_(hidden) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(double, dropout) = 0.0;
};

class FeedForwardImpl : public torch::nn::Cloneable<FeedForwardImpl> {
 public:
  explicit FeedForwardImpl(const FeedForwardOptions& options);
  void reset() override;
  /// [..., dim] -> [..., dim]
  at::Tensor forward(const at::Tensor& x);
  /// residual + forward(x), the same bits; without autograd and dropout, the residual added in
  /// fc2's pass (apply_linear_residual).
  at::Tensor add_forward(const at::Tensor& x, const at::Tensor& residual);

  FeedForwardOptions options;
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(FeedForward);

}  // namespace moedil::model
