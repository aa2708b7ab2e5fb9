#include "moedil/model/vit.h"

#include <algorithm>

#include <c10/util/Exception.h>

namespace moedil::model {

ViTImpl::ViTImpl(const ViTOptions& options_) : options(options_) {
  const InputShape& in = options.input();
  const int64_t patch = options.patch_size();
  TORCH_CHECK(in.height % patch == 0 && in.width % patch == 0, "ViT: image size ", in.height,
              "x", in.width, " is not divisible by patch_size ", patch);
  const int64_t dim = options.embed_dim();
  const int64_t num_patches = (in.height / patch) * (in.width / patch);
  const auto hidden = std::max<int64_t>(1, static_cast<int64_t>(options.mlp_ratio() * dim));

  patch_embed = register_module(
      "patch_embed",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in.channels, dim, patch).stride(patch)));
  cls_token = register_parameter("cls_token", at::randn({1, 1, dim}) * 0.02);
  pos_embed = register_parameter("pos_embed", at::randn({1, num_patches + 1, dim}) * 0.02);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) {
    auto block_options = TransformerBlockOptions(dim, options.num_heads(), hidden)
                             .dropout(options.dropout());
    const auto& moe_layers = options.moe_layers();
    const bool is_moe = std::find(moe_layers.begin(), moe_layers.end(), i) != moe_layers.end();
    const bool hetero = is_moe && !options.hetero_experts().empty();
    if (hetero) {
      const moe::MoeLayerOptions& m = options.moe();
      block_options.hetero(moe::HeteroMoeOptions(dim, hidden, options.hetero_experts())
                               .num_heads(options.num_heads())
                               .grid_h(in.height / patch)
                               .grid_w(in.width / patch)
                               .top_k(m.top_k())
                               .route_with_cls(m.route_with_cls())
                               .dropout(m.dropout())
                               .noise_std(m.noise_std())
                               .expert_dropout(m.expert_dropout())
                               .routing(m.routing())
                               .capacity_factor(m.capacity_factor())
                               .balance_losses(m.balance_losses()));
    } else if (is_moe) {
      block_options.moe(moe::MoeLayerOptions(options.moe()).dim(dim).hidden(hidden));
    }
    TransformerBlock block(block_options);
    blocks->push_back(block);
    const std::string name = "blocks." + std::to_string(i) + ".moe";
    if (hetero) {
      register_moe_layer(name, block->hetero->mixture, block->hetero->experts);
    } else if (is_moe) {
      register_moe_layer(name, block->moe->mixture, block->moe->experts);
    }
  }
  for (int64_t index : options.moe_layers()) {
    TORCH_CHECK(index >= 0 && index < options.depth(), "ViT: moe layer index ", index,
                " out of range for depth ", options.depth());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  head = register_module("head", torch::nn::Linear(dim, in.num_classes));
}

at::Tensor ViTImpl::forward(const at::Tensor& images) {
  const int64_t batch = images.size(0);
  at::Tensor x = patch_embed(images).flatten(2).transpose(1, 2);  // [B, N, D]
  x = at::cat({cls_token.expand({batch, 1, options.embed_dim()}), x}, 1) + pos_embed;
  for (const auto& block : *blocks) x = block->as<TransformerBlock>()->forward(x);
  return head(norm(x.select(1, 0)));
}

}  // namespace moedil::model
