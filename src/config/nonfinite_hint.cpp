#include "moedil/config/nonfinite_hint.h"

#include <nlohmann/json.hpp>

namespace moedil::config {
namespace {

// Thresholds: far from what the shipped configs use, near where float32 runs out of range.
constexpr double kSmallTemperature = 1e-2;
constexpr double kSmallWeightLimit = 1e-2;
constexpr double kLargeWeight = 100.0;
constexpr double kLargeMultiplier = 100.0;
constexpr double kLargeNoise = 100.0;
constexpr double kLargeAdamLr = 0.1;
constexpr double kLargeSgdLr = 1.0;

std::string number(double v) { return nlohmann::json(v).dump(); }

/// A learned router with a balance loss and router parameters (the hard-routed switch_moe_vit,
/// vit_moe_imagelevel and vit_prototype_heads have neither).
bool routes(const ModelConfig& m) {
  return m.name != "vit" && m.name != "resnet18" && m.name != "convnext_tiny" &&
         m.name != "switch_moe_vit" && m.name != "vit_moe_imagelevel" &&
         m.name != "vit_prototype_heads";
}

}  // namespace

std::vector<NonfiniteSuspect> nonfinite_suspects(const RunConfig& c) {
  std::vector<NonfiniteSuspect> out;
  const auto add = [&](const std::string& key, double value, const std::string& reason) {
    out.push_back({key, number(value), reason});
  };
  const ModelConfig& m = c.model;
  const bool balancing = c.router_balancing && routes(m);
  if (m.name == "vit_moe_centroid") {
    for (const auto& [key, value] : {std::pair{"model.temperature_start", m.temperature_start},
                                     std::pair{"model.temperature_end", m.temperature_end}}) {
      if (value < kSmallTemperature) {
        add(key, value, "the routing similarities are divided by it");
      }
    }
  }
  if (balancing) {
    for (const auto& [name, weight] : m.moe_balance_losses) {
      if (weight > kLargeWeight) add("model.moe_balance_losses." + name, weight, "loss weight");
    }
  }
  if (balancing && m.name == "vit_moe_centroid") {
    for (const auto& [key, value] :
         {std::pair{"model.repulsion_weight", m.repulsion_weight},
          std::pair{"model.alignment_weight", m.alignment_weight},
          std::pair{"model.consistency_weight", m.consistency_weight},
          std::pair{"model.kl_balance_weight_start", m.kl_balance_weight_start},
          std::pair{"model.kl_balance_weight_end", m.kl_balance_weight_end}}) {
      if (value > kLargeWeight) add(key, value, "loss weight");
    }
  }
  if (routes(m) && m.moe_noise_std > kLargeNoise) {
    add("model.moe_noise_std", m.moe_noise_std, "noise added to the router logits");
  }
  const bool adam = c.optimizer.name == "adam" || c.optimizer.name == "adamw";
  if (c.optimizer.lr > (adam ? kLargeAdamLr : kLargeSgdLr)) {
    add("optimizer.lr", c.optimizer.lr, "a high learning rate for " + c.optimizer.name);
  }
  if (c.loss.name == "weighted_cross_entropy" && c.loss.weight_upper_limit < kSmallWeightLimit) {
    add("loss.weight_upper_limit", c.loss.weight_upper_limit, "every class weight is capped at it");
  }
  if (balancing) {
    // The weight starts at router_balance_max, or at the strength when max is not given.
    const bool max_given = c.router_balance_max >= 0.0;
    const double start = max_given ? c.router_balance_max : c.router_balance_strength;
    if (start > kLargeWeight) {
      add(max_given ? "router_balance_max" : "router_balance_strength", start,
          "balance loss weight");
    }
    if (c.router_balance_anneal_epochs > 0 && c.router_balance_min > kLargeWeight) {
      add("router_balance_min", c.router_balance_min, "balance loss weight");
    }
  }
  if (c.backbone_lr_multiplier > kLargeMultiplier) {
    add("backbone_lr_multiplier", c.backbone_lr_multiplier, "multiplies optimizer.lr");
  }
  if (routes(m)) {
    if (c.router_lr_multiplier > kLargeMultiplier) {
      add("router_lr_multiplier", c.router_lr_multiplier, "multiplies optimizer.lr");
    }
    if (c.moe_expert_lr_multiplier > kLargeMultiplier) {
      add("moe_expert_lr_multiplier", c.moe_expert_lr_multiplier, "multiplies optimizer.lr");
    }
  }
  return out;
}

std::string nonfinite_loss_hint(const RunConfig& c) {
  const std::vector<NonfiniteSuspect> suspects = nonfinite_suspects(c);
  const std::string lower_lr = "try a lower optimizer.lr (now " + number(c.optimizer.lr) + ")";
  if (suspects.empty()) return lower_lr;
  std::string hint = "config values that can cause it: ";
  bool lr_named = false;
  for (std::size_t i = 0; i < suspects.size(); ++i) {
    const NonfiniteSuspect& s = suspects[i];
    hint += (i ? ", " : "") + s.key + " = " + s.value + " (" + s.reason + ")";
    lr_named = lr_named || s.key == "optimizer.lr";
  }
  return lr_named ? hint : hint + "; otherwise " + lower_lr;
}

}  // namespace moedil::config
