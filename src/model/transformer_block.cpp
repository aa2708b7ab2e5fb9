#include "moedil/model/transformer_block.h"

#include <c10/util/Exception.h>

#include "moedil/model/layer_norm.h"

namespace moedil::model {

TransformerBlockImpl::TransformerBlockImpl(const TransformerBlockOptions& options_)
    : options(options_) {
  reset();
}

void TransformerBlockImpl::reset() {
  using torch::nn::LayerNormOptions;
  const double eps = options.layer_norm_eps();
  norm1 = register_module("norm1",
                          torch::nn::LayerNorm(LayerNormOptions({options.dim()}).eps(eps)));
  attn = register_module(
      "attn", SelfAttention(SelfAttentionOptions(options.dim(), options.num_heads())
                                .dropout(options.dropout())));
  norm2 = register_module("norm2",
                          torch::nn::LayerNorm(LayerNormOptions({options.dim()}).eps(eps)));
  if (options.moe()) {
    moe = register_module("moe", moe::MoeLayer(*options.moe()));
  } else if (options.hetero()) {
    hetero = register_module("moe", moe::HeteroMoe(*options.hetero()));
  } else {
    mlp = register_module("mlp", FeedForward(FeedForwardOptions(options.dim(), options.hidden())
                                                 .dropout(options.dropout())));
  }
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& x) {
  // The skip connections' additions in the projections' passes where that applies (the same
  // bits as adding afterwards).
  const at::Tensor h = attn->add_forward(apply_layer_norm(*norm1, x), x);
  const at::Tensor normed = apply_layer_norm(*norm2, h);
  if (moe) return h + moe(normed);
  if (hetero) return h + hetero(normed);
  return mlp->add_forward(normed, h);
}

bool TransformerBlockImpl::first_token_suffices() const {
  if (hetero || (is_training() && options.dropout() > 0.0)) return false;
  return mlp || (moe && moe->first_token_suffices());
}

at::Tensor TransformerBlockImpl::forward_first_token(const at::Tensor& x) {
  TORCH_CHECK(first_token_suffices(), "TransformerBlock: forward_first_token would not give "
              "forward's first token here (heterogeneous or token-routed experts, or dropout)");
  const at::Tensor h =
      attn->add_forward_first_query(apply_layer_norm(*norm1, x), x.narrow(1, 0, 1));
  const at::Tensor normed = apply_layer_norm(*norm2, h);
  if (moe) return h + moe(normed);
  return mlp->add_forward(normed, h);
}

}  // namespace moedil::model
