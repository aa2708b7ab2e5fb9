#include "moedil/config/model_families.h"

#include <algorithm>
#include <utility>

namespace moedil::config {
namespace {

using Keys = std::vector<std::string>;
using Problems = std::vector<ModelKeyProblem>;

Keys operator+(Keys a, const Keys& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// model.embed_dim must split into model.num_heads heads.
void check_heads(const ModelConfig& m, Problems& out) {
  if (m.num_heads > 0 && m.embed_dim % m.num_heads != 0) {
    out.push_back({"num_heads", "model.embed_dim (" + std::to_string(m.embed_dim) +
                                    ") must be divisible by model.num_heads (" +
                                    std::to_string(m.num_heads) + ")"});
  }
}

/// model.moe_top_k experts out of the routed ones.
void check_top_k(const ModelConfig& m, Problems& out) {
  if (m.moe_top_k > m.moe_num_unshared_experts) {
    out.push_back({"moe_top_k",
                   std::to_string(m.moe_top_k) +
                       " is out of range: must be <= model.moe_num_unshared_experts (" +
                       std::to_string(m.moe_num_unshared_experts) + ")"});
  }
}

Problems vit_checks(const ModelConfig& m) {
  Problems out;
  check_heads(m, out);
  return out;
}

Problems vit_moe_checks(const ModelConfig& m) {
  Problems out;
  check_heads(m, out);
  if (m.moe_num_unshared_experts > 0) check_top_k(m, out);
  // The predecessor's shared-experts-only layer: no router, the sum of the shared experts.
  if ((m.moe_num_unshared_experts == 0) != (m.moe_top_k == 0)) {
    out.push_back({"moe_top_k", "0 routed experts and moe_top_k 0 go together (each MoE layer "
                                "then sums its shared experts); got moe_num_unshared_experts " +
                                    std::to_string(m.moe_num_unshared_experts) +
                                    " and moe_top_k " + std::to_string(m.moe_top_k)});
  } else if (m.moe_num_unshared_experts == 0 && m.moe_num_shared_experts == 0) {
    out.push_back({"moe_num_shared_experts", "0 routed experts: each MoE layer is the sum of its "
                                             "shared experts, and there are none; give at least 1"});
  }
  if (!m.moe_route_with_cls_token && m.moe_routing_granularity == "sample" &&
      m.moe_route_on == "cls") {
    out.push_back({"moe_route_on", "\"cls\" needs a CLS token, and "
                                   "model.moe_route_with_cls_token is false: route on \"mean\""});
  }
  return out;
}

Problems routed_cnn_checks(const ModelConfig& m) {
  Problems out;
  check_top_k(m, out);
  return out;
}

Problems hetero_checks(const ModelConfig& m) {
  Problems out;
  check_heads(m, out);
  if (m.moe_top_k > static_cast<int64_t>(m.hetero_experts.size())) {
    out.push_back({"moe_top_k", std::to_string(m.moe_top_k) +
                                    " is out of range: must be <= the number of "
                                    "model.hetero_experts (" +
                                    std::to_string(m.hetero_experts.size()) + ")"});
  }
  return out;
}

Problems switch_checks(const ModelConfig& m) {
  Problems out;
  check_heads(m, out);
  if (m.expert_depth >= m.depth) {
    out.push_back({"expert_depth", std::to_string(m.expert_depth) +
                                       " leaves no shared block: switch_moe_vit needs "
                                       "model.expert_depth < model.depth (" +
                                       std::to_string(m.depth) + ")"});
  }
  const int64_t routing_layer = m.depth - m.expert_depth - 1;
  if (m.prototype_init_layer != -1 && m.prototype_init_layer != routing_layer) {
    out.push_back({"prototype_init_layer",
                   std::to_string(m.prototype_init_layer) + ": the prototypes are compared with "
                   "the output of the last shared block, " + std::to_string(routing_layer) +
                   " (depth - expert_depth - 1), so only that block (or -1) initialises them"});
  }
  return out;
}

}  // namespace

bool ModelFamily::reads(const std::string& key) const {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

const std::vector<ModelFamily>& model_families() {
  // Key groups, in the order of configs/example.jsonc.
  static const Keys kViTBackbone{"patch_size", "embed_dim", "depth",
                                 "num_heads",  "mlp_ratio", "dropout"};
  static const Keys kInitWeights{"init_weights", "pretrained", "freeze_backbone"};
  static const Keys kUpcycle{"upcycle_noise"};
  static const Keys kLayerNorm{"layer_norm_eps"};
  // The predecessor's, checked against the dataset once it is loaded.
  static const Keys kDataChecked{"num_classes", "img_size"};
  // The routing core as the CNN MoE layers read it (one decision per image).
  static const Keys kRoutingCore{"moe_num_unshared_experts", "moe_num_shared_experts",
                                 "moe_top_k",                "moe_noise_std",
                                 "moe_capacity_factor",      "moe_routing",
                                 "moe_expert_dropout",       "moe_balance_losses"};
  // vit_moe: the routing core plus which blocks route, and per what.
  static const Keys kViTMoe{"moe_layer_indices",        "moe_num_unshared_experts",
                            "moe_num_shared_experts",   "moe_top_k",
                            "moe_routing_granularity",  "moe_route_with_cls_token",
                            "moe_route_on",             "moe_gate",
                            "moe_noise_std",            "moe_capacity_factor",
                            "moe_routing",              "moe_expert_dropout",
                            "moe_balance_losses",       "moe_unshared_lr_multipliers",
                            "moe_shared_lr_multipliers"};
  static const Keys kResNet{"resnet_stem", "resnet_width"};
  static const std::vector<ModelFamily> families{
      {"vit",
       kViTBackbone + kLayerNorm + kInitWeights + Keys{"moe_route_with_cls_token"} +
           kDataChecked,
       vit_checks},
      {"vit_moe",
       kViTBackbone + kLayerNorm + kInitWeights + kUpcycle + kViTMoe + kDataChecked,
       vit_moe_checks},
      // Routed per image (CLS token or token mean); one expert per hetero_experts entry.
      {"hetero_moe",
       kViTBackbone + kLayerNorm + kInitWeights + kUpcycle +
           Keys{"moe_layer_indices", "moe_top_k", "moe_route_on", "moe_noise_std",
                "moe_capacity_factor", "moe_routing", "moe_expert_dropout", "moe_balance_losses",
                "hetero_experts"} + kDataChecked,
       hetero_checks},
      {"resnet18", kInitWeights + kResNet + kDataChecked, {}},
      {"resnet18_conv_moe",
       kInitWeights + kUpcycle + kResNet + Keys{"resnet_moe_stages"} + kRoutingCore +
           kDataChecked,
       routed_cnn_checks},
      {"resnet18_block_moe",
       kInitWeights + kUpcycle + kResNet + Keys{"resnet_moe_stages"} + kRoutingCore +
           kDataChecked,
       routed_cnn_checks},
      {"convnext_tiny",
       kInitWeights + Keys{"convnext_depths", "convnext_dims", "convnext_stem_patch"} +
           kDataChecked,
       {}},
      // Top-1 token choice without capacity: of the routing core only the balance losses.
      {"vit_moe_centroid",
       kViTBackbone + kInitWeights + kUpcycle +
           Keys{"moe_layer_indices", "moe_num_unshared_experts", "moe_balance_losses",
                "alpha_fast", "alpha_slow", "temperature_start", "temperature_end",
                "anneal_epochs", "repulsion_weight", "alignment_weight", "consistency_weight",
                "kl_balance_weight_start", "kl_balance_weight_end"} + kDataChecked,
       vit_checks},
      // The predecessor's image-level model: hard routing by EMA centroids, no routing-core
      // option.
      {"vit_moe_imagelevel",
       kViTBackbone + kInitWeights + kUpcycle +
           Keys{"moe_layer_indices", "moe_num_unshared_experts", "alpha_fast", "alpha_slow"} +
           kDataChecked,
       vit_checks},
      // Hard routing by EMA prototypes: no routing-core option.
      {"switch_moe_vit",
       kViTBackbone + kLayerNorm + kInitWeights + kUpcycle +
           Keys{"moe_num_unshared_experts", "expert_depth", "freeze_shared", "ema_alpha",
                "routing_alpha", "prototype_init_dataset", "prototype_init_layer"} +
           kDataChecked,
       switch_checks},
      // The predecessor's pretrained_vit_moe_head: a whole ViT, heads chosen by prototypes.
      {"vit_prototype_heads",
       kViTBackbone + kLayerNorm + kInitWeights + kUpcycle +
           Keys{"moe_num_unshared_experts", "ema_alpha", "router_temperature", "head_mixing"} +
           kDataChecked,
       vit_checks},
  };
  return families;
}

const ModelFamily* find_model_family(const std::string& name) {
  for (const ModelFamily& family : model_families()) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::string not_read_message(const ModelFamily& family) {
  std::string keys;
  for (const std::string& key : family.keys) keys += (keys.empty() ? "" : ", ") + key;
  return "not read by model '" + family.name + "' (it reads: " + keys + ")";
}

}  // namespace moedil::config
