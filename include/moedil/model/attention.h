#pragma once
// Multi-head self-attention on batch-first tokens [B, T, D]. On float32 CPU tensors (with a
// cblas_sgemm in the process) the module runs moedil's own kernel (model/cpu_attention.h), on
// LibTorch 1.13 and 2.x alike; elsewhere, on LibTorch 2.x, the fused
// at::scaled_dot_product_attention, and on 1.13, which has no public fused kernel, plain matmuls
// (as wherever `fused(false)` asks for them). All compute the same function, to float rounding.
#include <ATen/core/Tensor.h>
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
  /// A fused kernel where there is one (float32 on the CPU: model/cpu_attention.h; else on 2.x
  /// ATen's); false forces the plain matmuls.
  TORCH_ARG(bool, fused) = true;
};

/// True when this LibTorch has the fused at::scaled_dot_product_attention (2.x; not 1.13).
bool fused_attention_available();

/// softmax(q k^T / sqrt(dh)) v for q, k, v [B, H, T, dh] -> [B, H, T, dh]. `fused` uses the fused
/// kernel where available and is ignored elsewhere.
at::Tensor scaled_dot_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                bool fused);

/// qkv [B, T, 3C] (per token q | k | v, each heads x dh: one Linear(C, 3C)'s output) ->
/// [B, T, C], the heads' outputs side by side: split into heads, scaled_dot_attention(fused),
/// merged. The composed reference of model/cpu_attention.h's kernel with fused = false.
at::Tensor multi_head_attention(const at::Tensor& qkv, int64_t heads, bool fused);

class SelfAttentionImpl : public torch::nn::Cloneable<SelfAttentionImpl> {
 public:
  explicit SelfAttentionImpl(const SelfAttentionOptions& options);
  void reset() override;
  /// [B, T, D] -> [B, T, D]
  at::Tensor forward(const at::Tensor& x);
  /// forward(x)'s first token alone: x [B, T, C] -> [B, 1, C], keys and values from every token,
  /// the query of the first one (TransformerBlockImpl::forward_first_token).
  at::Tensor forward_first_query(const at::Tensor& x);
  /// residual + forward(x) and residual + forward_first_query(x), the same bits; without
  /// autograd and dropout, the residual added in the output projection's pass
  /// (apply_linear_residual).
  at::Tensor add_forward(const at::Tensor& x, const at::Tensor& residual);
  at::Tensor add_forward_first_query(const at::Tensor& x, const at::Tensor& residual);

  SelfAttentionOptions options;
  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::Dropout drop{nullptr};

 private:
  /// The heads' outputs side by side before the output projection: [B, T, C], and [B, 1, C]
  /// for the first query alone.
  at::Tensor attend(const at::Tensor& x);
  at::Tensor attend_first_query(const at::Tensor& x);
};
TORCH_MODULE(SelfAttention);

}  // namespace moedil::model
