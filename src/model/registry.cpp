#include "moedil/model/registry.h"

#include "moedil/common/error.h"
#include "moedil/model/switch_vit.h"
#include "moedil/model/vit.h"
#include "moedil/model/vit_imagelevel.h"

namespace moedil::model {
namespace {

void check_patch_size(const config::ModelConfig& c, const InputShape& input) {
  if (input.height % c.patch_size != 0 || input.width % c.patch_size != 0) {
    throw ConfigError("model.patch_size: " + std::to_string(c.patch_size) +
                      " does not divide the dataset's image size " + std::to_string(input.height) +
                      "x" + std::to_string(input.width));
  }
}

ViTOptions vit_options(const config::ModelConfig& c, const InputShape& input) {
  check_patch_size(c, input);
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
    r.add("vit_moe_imagelevel",
          "ViT whose moe_layer_indices blocks have an image-level MoE MLP: each image goes to "
          "one of moe_num_unshared_experts experts (top-1; of the routing-core options only "
          "moe_routing, moe_capacity_factor and moe_balance_losses apply) by cosine "
          "similarity of its projected token mean (learnable projection, named router.) to fast "
          "EMA centroids (alpha_fast, alpha_slow; buffers, updated in training only), softmax "
          "temperature annealed temperature_start -> temperature_end over anneal_epochs epochs "
          "of each domain; aux loss = moe_balance_losses + repulsion_weight, alignment_weight, "
          "consistency_weight and KL-to-uniform balance (kl_balance_weight_start -> _end) terms, "
          "applied when router_balancing is on (times router_balance_strength)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            check_patch_size(c, input);
            return ViTImageLevel(ViTImageLevelOptions(input)
                                     .patch_size(c.patch_size)
                                     .embed_dim(c.embed_dim)
                                     .depth(c.depth)
                                     .num_heads(c.num_heads)
                                     .mlp_ratio(c.mlp_ratio)
                                     .dropout(c.dropout)
                                     .moe_layers(c.moe_layer_indices)
                                     .num_experts(c.moe_num_unshared_experts)
                                     .alpha_fast(c.alpha_fast)
                                     .alpha_slow(c.alpha_slow)
                                     .temperature_start(c.temperature_start)
                                     .temperature_end(c.temperature_end)
                                     .anneal_epochs(c.anneal_epochs)
                                     .repulsion_weight(c.repulsion_weight)
                                     .alignment_weight(c.alignment_weight)
                                     .consistency_weight(c.consistency_weight)
                                     .kl_balance_weight_start(c.kl_balance_weight_start)
                                     .kl_balance_weight_end(c.kl_balance_weight_end)
                                     .balance_losses(c.moe_balance_losses)
                                     .routing(c.moe_routing)
                                     .capacity_factor(c.moe_capacity_factor))
                .ptr();
          });
    r.add("switch_moe_vit",
          "ViT with depth - expert_depth shared lower blocks (freeze_shared: no gradient for "
          "them, the patch embedding, CLS and positions; init_weights can load them) and "
          "moe_num_unshared_experts experts, each its own upper expert_depth blocks + norm + "
          "head; each image goes to one expert (gate 1) by the nearest (cosine) EMA prototype "
          "of its patch-token mean and std after the shared blocks (routing_alpha, training "
          "only). Hard routing: no learnable router, no balance or aux loss, none of the "
          "routing-core options apply",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            check_patch_size(c, input);
            if (c.expert_depth >= c.depth) {
              throw ConfigError("model.expert_depth: " + std::to_string(c.expert_depth) +
                                " must be < model.depth (" + std::to_string(c.depth) + ")");
            }
            return SwitchViT(SwitchViTOptions(input)
                                 .patch_size(c.patch_size)
                                 .embed_dim(c.embed_dim)
                                 .depth(c.depth)
                                 .num_heads(c.num_heads)
                                 .mlp_ratio(c.mlp_ratio)
                                 .dropout(c.dropout)
                                 .num_experts(c.moe_num_unshared_experts)
                                 .expert_depth(c.expert_depth)
                                 .freeze_shared(c.freeze_shared)
                                 .routing_alpha(c.routing_alpha))
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
