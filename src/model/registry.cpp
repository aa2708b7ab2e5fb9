#include "moedil/model/registry.h"

#include "moedil/common/error.h"
#include "moedil/model/vit.h"

namespace moedil::model {
namespace {

ViTOptions vit_options(const config::ModelConfig& c, const InputShape& input) {
  if (input.height % c.patch_size != 0 || input.width % c.patch_size != 0) {
    throw ConfigError("model.patch_size: " + std::to_string(c.patch_size) +
                      " does not divide the dataset's image size " + std::to_string(input.height) +
                      "x" + std::to_string(input.width));
  }
  return ViTOptions(input)
      .patch_size(c.patch_size)
      .embed_dim(c.embed_dim)
      .depth(c.depth)
      .num_heads(c.num_heads)
      .mlp_ratio(c.mlp_ratio)
      .dropout(c.dropout);
}

moe::MoeLayerOptions moe_options(const config::ModelConfig& c) {
  return moe::MoeLayerOptions(0, 0, c.moe_num_unshared_experts)
      .num_shared(c.moe_num_shared_experts)
      .top_k(c.moe_top_k)
      .granularity(c.moe_routing_granularity)
      .route_with_cls(c.moe_route_with_cls_token)
      .noise_std(c.moe_noise_std)
      .capacity_factor(c.moe_capacity_factor)
      .routing(c.moe_routing)
      .expert_dropout(c.moe_expert_dropout)
      .balance_losses(c.moe_balance_losses)
      .dropout(c.dropout);
}

}  // namespace

const Registry<ModelBuilder>& model_registry() {
  static const Registry<ModelBuilder> registry = [] {
    Registry<ModelBuilder> r("model");
    r.add("vit", "dense Vision Transformer baseline (patch_size, embed_dim, depth, num_heads, "
                 "mlp_ratio, dropout)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViT(vit_options(c, input)).ptr();
          });
    r.add("hetero_moe",
          "ViT whose moe_layer_indices blocks have an MoE MLP of experts of different "
          "architectures, one per entry of hetero_experts (mlp: token MLP, conv: 3x3 conv over "
          "the patch grid, attention: self-attention over the tokens), routed per image (CLS "
          "token or token mean, moe_route_with_cls_token) top-k (moe_top_k), with the routing "
          "core options (moe_noise_std, moe_capacity_factor, moe_routing, moe_expert_dropout, "
          "moe_balance_losses)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViT(vit_options(c, input)
                           .moe_layers(c.moe_layer_indices)
                           .moe(moe_options(c))
                           .hetero_experts(c.hetero_experts))
                .ptr();
          });
    r.add("vit_moe",
          "ViT whose moe_layer_indices blocks have an MoE MLP: moe_num_unshared_experts routed "
          "top-k (moe_top_k) per sample or token, plus moe_num_shared_experts always on",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViT(vit_options(c, input).moe_layers(c.moe_layer_indices).moe(moe_options(c)))
                .ptr();
          });
    return r;
  }();
  return registry;
}

Classifier make_model(const config::ModelConfig& c, const InputShape& input) {
  return model_registry().get(c.name).build(c, input);
}

int64_t count_parameters(const ClassifierImpl& model, bool trainable_only) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) {
    if (!trainable_only || p.requires_grad()) total += p.numel();
  }
  return total;
}

}  // namespace moedil::model
