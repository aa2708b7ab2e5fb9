#include "moedil/model/vit_slow_centroid.h"

#include <algorithm>
#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/transformer_block.h"

namespace moedil::model {

SlowCentroidBlockImpl::SlowCentroidBlockImpl(int64_t num_heads,
                                             const moe::SlowCentroidMoeOptions& moe_options) {
  using torch::nn::LayerNormOptions;
  const int64_t dim = moe_options.dim();
  norm1 = register_module("norm1", torch::nn::LayerNorm(LayerNormOptions({dim})));
  attn = register_module(
      "attn", SelfAttention(SelfAttentionOptions(dim, num_heads).dropout(moe_options.dropout())));
  norm2 = register_module("norm2", torch::nn::LayerNorm(LayerNormOptions({dim})));
  moe = register_module("moe", moe::SlowCentroidMoe(moe_options));
}

at::Tensor SlowCentroidBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor h = x + attn(norm1(x));
  return h + moe(norm2(h));
}

ViTSlowCentroidImpl::ViTSlowCentroidImpl(const ViTSlowCentroidOptions& options_)
    : options(options_) {
  const ViTBackboneOptions& backbone = options.backbone();
  for (int64_t index : options.moe_layers()) {
    TORCH_CHECK(index >= 0 && index < backbone.depth(), "ViTSlowCentroid: moe layer index ",
                index, " out of range for depth ", backbone.depth());
  }
  const int64_t dim = backbone.embed_dim();
  const int64_t hidden = backbone.hidden();
  TORCH_CHECK(backbone.cls_token(), "ViTSlowCentroid: the model needs its CLS token");
  stem = register_patch_stem(*this, backbone.input(), backbone.patch_size(), dim,
                             "ViTSlowCentroid");
  blocks = register_module("blocks", torch::nn::ModuleList());
  const auto moe_options = moe::SlowCentroidMoeOptions(dim, hidden, options.num_experts())
                               .dropout(backbone.dropout())
                               .alpha_fast(options.alpha_fast())
                               .alpha_slow(options.alpha_slow());
  const auto& layers = options.moe_layers();
  for (int64_t i = 0; i < backbone.depth(); ++i) {
    if (std::find(layers.begin(), layers.end(), i) == layers.end()) {
      blocks->push_back(TransformerBlock(
          TransformerBlockOptions(dim, backbone.num_heads(), hidden).dropout(backbone.dropout())));
      continue;
    }
    SlowCentroidBlock block(backbone.num_heads(), moe_options);
    blocks->push_back(block);
    register_moe_layer("blocks." + std::to_string(i) + ".moe", *block->moe);
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  head = register_module("head", torch::nn::Linear(dim, backbone.input().num_classes));
}

at::Tensor ViTSlowCentroidImpl::forward(const at::Tensor& images) {
  at::Tensor x = stem.embed(images);  // [B, 1 + N, D]
  for (const auto& block : *blocks) {
    if (auto* moe_block = block->as<SlowCentroidBlock>()) {
      x = moe_block->forward(x);
    } else {
      x = block->as<TransformerBlock>()->forward(x);
    }
  }
  return head(norm(x.select(1, 0)));
}

}  // namespace moedil::model
