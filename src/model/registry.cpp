#include "moedil/model/registry.h"

#include <algorithm>
#include <string>

#include "moedil/common/error.h"
#include "moedil/config/model_families.h"
#include "moedil/model/convnext.h"
#include "moedil/model/resnet.h"
#include "moedil/model/switch_vit.h"
#include "moedil/model/vit.h"
#include "moedil/model/vit_imagelevel.h"
#include "moedil/model/vit_prototype_heads.h"
#include "moedil/model/vit_slow_centroid.h"

namespace moedil::model {
namespace {

void check_patch_size(const config::ModelConfig& c, const InputShape& input) {
  if (input.height % c.patch_size != 0 || input.width % c.patch_size != 0) {
    throw ConfigError("model.patch_size: " + std::to_string(c.patch_size) +
                      " does not divide the dataset's image size " + std::to_string(input.height) +
                      "x" + std::to_string(input.width));
  }
}

/// The ViT families' shared keys (patch_size, embed_dim, depth, num_heads, mlp_ratio, dropout).
/// torchvision's and timm's 1e-6 for the dense ViTs whose files they load (vit, and
/// vit_prototype_heads' backbone); LibTorch's 1e-5 for the others.
double default_layer_norm_eps(const std::string& family) {
  return family == "vit" || family == "vit_prototype_heads" ? 1e-6 : 1e-5;
}

ViTBackboneOptions vit_backbone(const config::ModelConfig& c, const InputShape& input) {
  check_patch_size(c, input);
  return ViTBackboneOptions(input)
      .patch_size(c.patch_size)
      .embed_dim(c.embed_dim)
      .depth(c.depth)
      .num_heads(c.num_heads)
      .mlp_ratio(c.mlp_ratio)
      .dropout(c.dropout)
      .layer_norm_eps(c.layer_norm_eps > 0 ? c.layer_norm_eps : default_layer_norm_eps(c.name))
      .cls_token(c.moe_route_with_cls_token);
}

moe::MoeLayerOptions moe_options(const config::ModelConfig& c) {
  return moe::MoeLayerOptions(0, 0, c.moe_num_unshared_experts)
      .num_shared(c.moe_num_shared_experts)
      .top_k(c.moe_top_k)
      .granularity(c.moe_routing_granularity)
      .route_with_cls(c.moe_route_on == "cls")
      .renormalize_gates(c.moe_gate == "renormalized")
      .noise_std(c.moe_noise_std)
      .capacity_factor(c.moe_capacity_factor)
      .routing(c.moe_routing)
      .expert_dropout(c.moe_expert_dropout)
      .balance_losses(c.moe_balance_losses)
      .dropout(c.dropout);
}

/// Routing of the CNN MoE layers from the moe_* keys.
moe::MoeSettings cnn_moe_settings(const config::ModelConfig& c) {
  return moe::MoeSettings(moe::MixtureOptions(c.moe_num_unshared_experts)
                              .top_k(c.moe_top_k)
                              .routing(c.moe_routing)
                              .capacity_factor(c.moe_capacity_factor)
                              .balance_losses(c.moe_balance_losses))
      .num_shared(c.moe_num_shared_experts)
      .noise_std(c.moe_noise_std)
      .expert_dropout(c.moe_expert_dropout);
}

/// Side of stage s's feature maps for an image side of `side` (stems and strides round up).
int64_t resnet_stage_side(int64_t side, const std::string& stem, int64_t stage) {
  int64_t h = stem == "imagenet" ? (side + 3) / 4 : side;  // 7x7 stride 2, then max pool stride 2
  for (int64_t s = 1; s <= stage; ++s) h = (h + 1) / 2;
  return h;
}

ResNetOptions resnet_options(const config::ModelConfig& c, const InputShape& input,
                             const std::string& moe_kind) {
  if (moe_kind == "block") {
    // An expert block may get a single image; its BatchNorm cannot train on one 1x1 map.
    for (int64_t stage : c.resnet_moe_stages) {
      const int64_t h = resnet_stage_side(input.height, c.resnet_stem, stage);
      const int64_t w = resnet_stage_side(input.width, c.resnet_stem, stage);
      if (h * w == 1) {
        throw ConfigError("model.resnet_moe_stages: stage " + std::to_string(stage) +
                          " has 1x1 feature maps with model.resnet_stem \"" + c.resnet_stem +
                          "\" on " + std::to_string(input.height) + "x" +
                          std::to_string(input.width) +
                          " images: an expert block's BatchNorm cannot train on one image; use "
                          "the cifar stem or an earlier stage");
      }
    }
  }
  return ResNetOptions(input)
      .stem(c.resnet_stem)
      .width(c.resnet_width)
      .moe_kind(moe_kind)
      .moe_stages(c.resnet_moe_stages)
      .moe(cnn_moe_settings(c));
}

ConvNeXtOptions convnext_options(const config::ModelConfig& c, const InputShape& input) {
  const int64_t side = std::min(input.height, input.width);
  if (c.convnext_stem_patch > side) {
    throw ConfigError("model.convnext_stem_patch: " + std::to_string(c.convnext_stem_patch) +
                      " is larger than the dataset's image size " + std::to_string(input.height) +
                      "x" + std::to_string(input.width) + ": the stem would leave 0x0 features");
  }
  return ConvNeXtOptions(input)
      .depths(c.convnext_depths)
      .dims(c.convnext_dims)
      .stem_patch(c.convnext_stem_patch);
}

}  // namespace

const Registry<ModelBuilder>& model_registry() {
  static const Registry<ModelBuilder> registry = [] {
    Registry<ModelBuilder> r("model");
    r.add("vit", "dense Vision Transformer baseline (patch_size, embed_dim, depth, num_heads, "
                 "mlp_ratio, dropout; moe_route_with_cls_token false: no CLS token, the head "
                 "reads the token mean, as the predecessor's)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViT(ViTOptions(vit_backbone(c, input))).ptr();
          });
    r.add("vit_moe",
          "ViT whose moe_layer_indices blocks have an MoE MLP: moe_num_unshared_experts routed "
          "top-k (moe_top_k) per token (moe_routing_granularity, the predecessor's) or per "
          "image (on the CLS token or the token mean: moe_route_on), gates renormalised over the "
          "chosen experts (moe_gate; top-1: 1, the predecessor's) or the router probability, "
          "plus moe_num_shared_experts always on (0 routed experts with moe_top_k 0: the plain "
          "sum of the shared experts, no router); moe_route_with_cls_token false: no CLS token, "
          "the head reads the token mean",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViT(ViTOptions(vit_backbone(c, input))
                           .moe_layers(c.moe_layer_indices)
                           .moe(moe_options(c)))
                .ptr();
          });
    r.add("hetero_moe",
          "ViT whose moe_layer_indices blocks have an MoE MLP of experts of different "
          "architectures, one per entry of hetero_experts (mlp: token MLP, conv: 3x3 conv over "
          "the patch grid, attention: self-attention over the tokens), routed per image (CLS "
          "token or token mean, moe_route_on) top-k (moe_top_k), with the routing "
          "core options (moe_noise_std, moe_capacity_factor, moe_routing, moe_expert_dropout, "
          "moe_balance_losses)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            // Its gates are the router probabilities (moe_gate is vit_moe's).
            return ViT(ViTOptions(vit_backbone(c, input))
                           .moe_layers(c.moe_layer_indices)
                           .moe(moe_options(c).renormalize_gates(false))
                           .hetero_experts(c.hetero_experts))
                .ptr();
          });
    r.add("resnet18",
          "dense ResNet-18 for small images (resnet_stem \"cifar\" or \"imagenet\", "
          "resnet_width: stage widths w, 2w, 4w, 8w)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ResNet(resnet_options(c, input, "none")).ptr();
          });
    r.add("resnet18_conv_moe",
          "ResNet-18 whose 3x3 convs in the resnet_moe_stages are MoE convs: "
          "moe_num_unshared_experts conv experts routed top-k (moe_top_k) per image on the "
          "pooled input, plus moe_num_shared_experts always on (resnet_stem, resnet_width)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ResNet(resnet_options(c, input, "conv")).ptr();
          });
    r.add("resnet18_block_moe",
          "ResNet-18 whose BasicBlocks in the resnet_moe_stages are MoE blocks: "
          "moe_num_unshared_experts whole-block experts routed top-k (moe_top_k) per image on "
          "the pooled block input, plus moe_num_shared_experts always on (resnet_stem, "
          "resnet_width)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ResNet(resnet_options(c, input, "block")).ptr();
          });
    r.add("convnext_tiny",
          "dense ConvNeXt baseline (convnext_depths, convnext_dims: 4 stages; "
          "convnext_stem_patch: patchify stem kernel and stride)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ConvNeXt(convnext_options(c, input)).ptr();
          });
    r.add("vit_moe_centroid",
          "moedil's image-level MoE ViT (the predecessor's is vit_moe_imagelevel): a ViT whose "
          "moe_layer_indices blocks have an image-level MoE MLP: each image goes to "
          "one of moe_num_unshared_experts experts (top-1, token choice without capacity, so "
          "each image reaches the expert whose centroid follows it; of the routing-core options "
          "only moe_balance_losses applies) by cosine similarity of its projected token mean "
          "(learnable projection: the layer's router) to fast EMA centroids (keep rates "
          "alpha_fast, alpha_slow; buffers, updated in training only), softmax temperature "
          "annealed temperature_start -> temperature_end over anneal_epochs epochs "
          "of each domain; aux loss = moe_balance_losses + repulsion_weight, alignment_weight, "
          "consistency_weight and KL-to-uniform balance (kl_balance_weight_start -> _end) terms, "
          "applied when router_balancing is on (times router_balance_strength)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViTImageLevel(ViTImageLevelOptions(vit_backbone(c, input))
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
                                     .balance_losses(c.moe_balance_losses))
                .ptr();
          });
    r.add("vit_moe_imagelevel",
          "the predecessor's image-level MoE ViT (its defaults: patch_size 16, embed_dim 256, "
          "depth 10, num_heads 4, mlp_ratio 1, MoE in every block): in the moe_layer_indices "
          "blocks each image goes, whole, to one of moe_num_unshared_experts MLP experts (gate "
          "1) by the nearest (cosine) slow EMA centroid of its patch-token mean; fast and slow "
          "centroids (keep rates alpha_fast, alpha_slow) start from the first training batch "
          "and move in training only. No learnable routing and no auxiliary loss (the "
          "predecessor's auxiliary terms carried no gradient)",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViTSlowCentroid(ViTSlowCentroidOptions(vit_backbone(c, input))
                                       .moe_layers(c.moe_layer_indices)
                                       .num_experts(c.moe_num_unshared_experts)
                                       .alpha_fast(c.alpha_fast)
                                       .alpha_slow(c.alpha_slow))
                .ptr();
          });
    r.add("switch_moe_vit",
          "ViT with depth - expert_depth shared lower blocks (freeze_shared: no gradient for "
          "them, the patch embedding, CLS and positions; init_weights can load them) and "
          "moe_num_unshared_experts experts, each its own upper expert_depth blocks + norm + "
          "head; each image goes to one expert (gate 1) by the nearest (cosine) EMA prototype "
          "of its patch-token mean and std after the shared blocks (score routing_alpha * "
          "cos(mean) + (1 - routing_alpha) * cos(std); prototypes' keep rate ema_alpha, "
          "training only; set from the first training batch, or from one image per class of "
          "each domain folder of prototype_init_dataset). Hard routing: no learnable router, no balance or aux loss, none of the "
          "routing-core options apply",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return SwitchViT(SwitchViTOptions(vit_backbone(c, input))
                                 .num_experts(c.moe_num_unshared_experts)
                                 .expert_depth(c.expert_depth)
                                 .freeze_shared(c.freeze_shared)
                                 .ema_alpha(c.ema_alpha)
                                 .routing_alpha(c.routing_alpha))
                .ptr();
          });
    r.add("vit_prototype_heads",
          "the predecessor's pretrained_vit_moe_head: a whole ViT (every block shared; "
          "pretrained: its backbone from a ViT file) and moe_num_unshared_experts linear heads "
          "on the unit CLS feature after the final norm; each image goes to the head of the "
          "nearest (cosine) of as many unit prototypes (random from the model seed; keep rate "
          "ema_alpha, moved toward the features they win in training only, 1 = fixed; the "
          "routers' freezing stops them too); "
          "head_mixing \"selected\" (that head alone) or \"weighted\" (every head, weighted by "
          "softmax(cosines / router_temperature)). No learnable router, no balance or aux loss",
          [](const config::ModelConfig& c, const InputShape& input) -> Classifier {
            return ViTPrototypeHeads(ViTPrototypeHeadsOptions(vit_backbone(c, input))
                                         .num_experts(c.moe_num_unshared_experts)
                                         .ema_alpha(c.ema_alpha)
                                         .router_temperature(c.router_temperature)
                                         .head_mixing(c.head_mixing))
                .ptr();
          });
    return r;
  }();
  return registry;
}

Classifier make_model(const config::ModelConfig& c, const InputShape& input) {
  const auto& entry = model_registry().get(c.name);
  // The family's rules among its keys live in config/model_families.cpp; validation has
  // checked them, but a ModelConfig built in code has not.
  if (const auto* family = config::find_model_family(c.name); family && family->check) {
    const auto problems = family->check(c);
    if (!problems.empty()) {
      throw ConfigError("model." + problems.front().key + ": " + problems.front().message);
    }
  }
  return entry.build(c, input);
}

int64_t count_parameters(const ClassifierImpl& model, bool trainable_only) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) {
    if (!trainable_only || p.requires_grad()) total += p.numel();
  }
  return total;
}

}  // namespace moedil::model
