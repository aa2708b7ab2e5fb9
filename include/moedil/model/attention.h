#pragma once
// Multi-head self-attention on batch-first tokens [B, T, D] (plain matmuls, so the same code runs
// on LibTorch 1.13 and 2.x).
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace moedil::model {

struct SelfAttentionOptions {
  SelfAttentionOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, dropout) = 0.0;
};

class SelfAttentionImpl : public torch::nn::Cloneable<SelfAttentionImpl> {
 public:
  explicit SelfAttentionImpl(const SelfAttentionOptions& options);
  void reset() override;
  /// [B, T, D] -> [B, T, D]
  at::Tensor forward(const at::Tensor& x);

  SelfAttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(SelfAttention);

}  // namespace moedil::model
