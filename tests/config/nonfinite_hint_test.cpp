#include "moedil/config/nonfinite_hint.h"

#include <gtest/gtest.h>

#include <string>

namespace moedil::config {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(NonfiniteHint, PlainConfigBlamesOnlyTheLearningRate) {
  RunConfig c;
  c.optimizer.lr = 0.003;
  EXPECT_TRUE(nonfinite_suspects(c).empty());
  EXPECT_EQ(nonfinite_loss_hint(c), "try a lower optimizer.lr (now 0.003)");
}

TEST(NonfiniteHint, TinyTemperatureIsNamedBeforeTheLearningRate) {
  RunConfig c;
  c.model.name = "vit_moe_centroid";
  c.model.temperature_end = 1e-300;
  const std::string hint = nonfinite_loss_hint(c);
  EXPECT_TRUE(has(hint, "config values that can cause it: model.temperature_end = 1e-300 "
                        "(the routing similarities are divided by it)"))
      << hint;
  EXPECT_TRUE(has(hint, "; otherwise try a lower optimizer.lr (now 0.001)")) << hint;
  // The temperature of a family that has none is not suspect.
  c.model.name = "vit_moe";
  EXPECT_EQ(nonfinite_loss_hint(c), "try a lower optimizer.lr (now 0.001)");
}

TEST(NonfiniteHint, WeightLimitsLossWeightsAndMultipliersAreNamed) {
  RunConfig c;
  c.router_balancing = true;
  c.loss.name = "weighted_cross_entropy";
  c.loss.weight_upper_limit = 1e-300;
  c.router_balance_strength = 1e5;
  c.moe_expert_lr_multiplier = 1e4;
  c.model.moe_balance_losses = {{"z_loss", 1e9}};
  std::vector<std::string> keys;
  for (const auto& s : nonfinite_suspects(c)) keys.push_back(s.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"model.moe_balance_losses.z_loss",
                                            "loss.weight_upper_limit", "router_balance_strength",
                                            "moe_expert_lr_multiplier"}));
  // A given router_balance_max is the weight (the strength no longer counts), annealed or not.
  c.router_balance_max = 1e5;
  c.router_balance_strength = 0.01;
  keys.clear();
  for (const auto& s : nonfinite_suspects(c)) keys.push_back(s.key);
  EXPECT_EQ(keys[2], "router_balance_max");
  c.router_balance_max = -1.0;
  c.router_balance_strength = 1e5;
  // Balance weights do not count with router_balancing off, nor on a dense model.
  c.router_balancing = false;
  EXPECT_EQ(nonfinite_suspects(c).size(), 2u);
  c.model.name = "vit";
  ASSERT_EQ(nonfinite_suspects(c).size(), 1u);
  EXPECT_EQ(nonfinite_suspects(c)[0].key, "loss.weight_upper_limit");
}

TEST(NonfiniteHint, AHighLearningRateIsTheSuspectItself) {
  RunConfig c;
  c.optimizer.name = "adam";
  c.optimizer.lr = 0.5;
  EXPECT_EQ(nonfinite_loss_hint(c),
            "config values that can cause it: optimizer.lr = 0.5 (a high learning rate for adam)");
  c.optimizer.name = "sgd";
  EXPECT_EQ(nonfinite_loss_hint(c), "try a lower optimizer.lr (now 0.5)");
}

}  // namespace
}  // namespace moedil::config
