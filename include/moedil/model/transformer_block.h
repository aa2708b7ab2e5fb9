#pragma once
// Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x)); the MLP is dense or MoE.
#include <optional>

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/attention.h"
#include "moedil/model/feed_forward.h"
#include "moedil/model/moe/hetero_moe.h"
#include "moedil/model/moe/moe_layer.h"

namespace moedil::model {

struct TransformerBlockOptions {
  TransformerBlockOptions(int64_t dim, int64_t num_heads, int64_t hidden)
      : dim_(dim), num_heads_(num_heads), hidden_(hidden) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(double, dropout) = 0.0;
  /// eps of norm1 and norm2 (LibTorch's default; torchvision's and timm's ViTs use 1e-6).
  TORCH_ARG(double, layer_norm_eps) = 1e-5;
  /// When set, the MLP is this MoE layer instead of a dense FeedForward.
  TORCH_ARG(std::optional<moe::MoeLayerOptions>, moe) = std::nullopt;
  /// When set (and moe is not), the MLP is this heterogeneous MoE layer (also named "moe").
  TORCH_ARG(std::optional<moe::HeteroMoeOptions>, hetero) = std::nullopt;
};

class TransformerBlockImpl : public torch::nn::Cloneable<TransformerBlockImpl> {
 public:
  explicit TransformerBlockImpl(const TransformerBlockOptions& options);
  void reset() override;
  /// [B, T, D] -> [B, T, D]
  at::Tensor forward(const at::Tensor& x);
  /// Whether forward_first_token gives forward's first token, with the same routing, usage and
  /// losses: a dense MLP, or an MoE layer whose first_token_suffices; no dropout drawn.
  bool first_token_suffices() const;
  /// [B, T, D] -> [B, 1, D]: forward(x)'s first token, with the attention's query, the second
  /// norm and the MLP computed for that token alone (what a head that reads the CLS token needs
  /// of the last block). Only where first_token_suffices.
  at::Tensor forward_first_token(const at::Tensor& x);

  TransformerBlockOptions options;
  torch::nn::LayerNorm norm1{nullptr};
  SelfAttention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  FeedForward mlp{nullptr};  ///< set when dense
  moe::MoeLayer moe{nullptr};  ///< set when MoE
  moe::HeteroMoe hetero{nullptr};  ///< set when heterogeneous MoE
};
TORCH_MODULE(TransformerBlock);

}  // namespace moedil::model
