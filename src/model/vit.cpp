#include "moedil/model/vit.h"

#include <algorithm>

#include <c10/util/Exception.h>

#include "moedil/model/layer_norm.h"

namespace moedil::model {

ViTImpl::ViTImpl(const ViTOptions& options_) : options(options_) {
  const ViTBackboneOptions& backbone = options.backbone();
  const InputShape& in = backbone.input();
  const int64_t patch = backbone.patch_size();
  const int64_t dim = backbone.embed_dim();
  const auto hidden = backbone.hidden();
  stem = register_patch_stem(*this, in, patch, dim, "ViT", backbone.cls_token());
  TORCH_CHECK(backbone.cls_token() || options.hetero_experts().empty(),
              "ViT: hetero_moe needs a CLS token");
  TORCH_CHECK(backbone.cls_token() || options.moe_layers().empty() ||
                  options.moe().granularity() == "token" || !options.moe().route_with_cls(),
              "ViT: sample routing on the CLS token needs a CLS token");
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < backbone.depth(); ++i) {
    auto block_options = TransformerBlockOptions(dim, backbone.num_heads(), hidden)
                             .dropout(backbone.dropout())
                             .layer_norm_eps(backbone.layer_norm_eps());
    const auto& moe_layers = options.moe_layers();
    const bool is_moe = std::find(moe_layers.begin(), moe_layers.end(), i) != moe_layers.end();
    const bool hetero = is_moe && !options.hetero_experts().empty();
    if (hetero) {
      const moe::MoeLayerOptions& m = options.moe();
      const auto kinds = static_cast<int64_t>(options.hetero_experts().size());
      block_options.hetero(
          moe::HeteroMoeOptions(dim, hidden, options.hetero_experts())
              .num_heads(backbone.num_heads())
              .grid_h(in.height / patch)
              .grid_w(in.width / patch)
              .route_with_cls(m.route_with_cls())
              .dropout(m.dropout())
              .settings(moe::MoeSettings(moe::MixtureOptions(kinds)
                                             .top_k(m.top_k())
                                             .routing(m.routing())
                                             .capacity_factor(m.capacity_factor())
                                             .balance_losses(m.balance_losses()))
                            .noise_std(m.noise_std())
                            .expert_dropout(m.expert_dropout())));
    } else if (is_moe) {
      block_options.moe(moe::MoeLayerOptions(options.moe()).dim(dim).hidden(hidden));
    }
    TransformerBlock block(block_options);
    blocks->push_back(block);
    const std::string name = "blocks." + std::to_string(i) + ".moe";
    if (hetero) {
      register_moe_layer(name, *block->hetero);
    } else if (is_moe && options.moe().num_experts() == 0) {
      register_unrouted_layer(name, *block->moe);
    } else if (is_moe) {
      register_moe_layer(name, *block->moe);
    }
  }
  for (int64_t index : options.moe_layers()) {
    TORCH_CHECK(index >= 0 && index < backbone.depth(), "ViT: moe layer index ", index,
                " out of range for depth ", backbone.depth());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(
                                     backbone.layer_norm_eps())));
  head = register_module("head", torch::nn::Linear(dim, in.num_classes));
}

bool ViTImpl::last_block_on_first_token() const {
  if (!options.backbone().cls_token() || !options.last_block_first_token_only() ||
      blocks->size() == 0) {
    return false;
  }
  return (*blocks)[blocks->size() - 1]->as<TransformerBlock>()->first_token_suffices();
}

at::Tensor ViTImpl::forward(const at::Tensor& images) {
  at::Tensor x = stem.embed(images);  // [B, 1 + N, D] ([B, N, D] without a CLS token)
  const std::size_t depth = blocks->size();
  const bool first_only = last_block_on_first_token();
  for (std::size_t i = 0; i < depth; ++i) {
    TransformerBlockImpl& block = *(*blocks)[i]->as<TransformerBlock>();
    // [B, 1, D] from the last block when the head needs the CLS token alone.
    x = first_only && i + 1 == depth ? block.forward_first_token(x) : block.forward(x);
  }
  x = apply_layer_norm(*norm, x);
  return head(options.backbone().cls_token() ? x.select(1, 0) : x.mean(1));
}

}  // namespace moedil::model
