#include "moedil/train/optimizer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "moedil/common/error.h"
#include "moedil/model/registry.h"

namespace moedil::train {
namespace {

TEST(Optimizer, SgdStepFollowsTheHandComputedUpdate) {
  at::Tensor w = at::tensor({1.0, -2.0}, at::kDouble).requires_grad_(true);
  config::OptimizerConfig c;
  c.name = "sgd";
  c.lr = 0.1;
  c.momentum = 0.0;
  auto opt = make_optimizer({w}, c);
  (w * w).sum().backward();  // grad = 2w = (2, -4)
  opt->step();
  EXPECT_NEAR(w[0].item<double>(), 1.0 - 0.1 * 2.0, 1e-12);
  EXPECT_NEAR(w[1].item<double>(), -2.0 + 0.1 * 4.0, 1e-12);
  EXPECT_DOUBLE_EQ(current_lr(*opt), 0.1);
}

// The groups come from the typed MoE layer handles. On every MoE family (shared experts
// included) they hold exactly the parameters whose module path says router / experts, in the
// model's parameter order: nothing is found by name, yet nothing is missed.
TEST(Optimizer, ParamGroupsFollowTheTypedMoeHandlesOnEveryFamily) {
  const std::vector<std::pair<std::string, model::InputShape>> families = {
      {"vit_moe", {1, 28, 28, 10}},          {"hetero_moe", {1, 28, 28, 10}},
      {"resnet18_conv_moe", {3, 32, 32, 5}}, {"resnet18_block_moe", {3, 32, 32, 5}},
      {"vit_moe_centroid", {1, 28, 28, 10}}, {"switch_moe_vit", {1, 28, 28, 10}}};
  for (const auto& [name, shape] : families) {
    SCOPED_TRACE(name);
    config::ModelConfig c;
    c.name = name;
    c.embed_dim = 16;
    c.depth = 3;
    c.num_heads = 2;
    c.moe_layer_indices = {1};
    c.resnet_width = 4;
    c.expert_depth = 1;
    if (name == "vit_moe" || name.rfind("resnet18", 0) == 0) c.moe_num_shared_experts = 1;
    const model::Classifier m = model::make_model(c, shape);
    std::vector<std::string> want[3];  // other, router, experts by the module path
    for (const auto& item : m->named_parameters()) {
      const std::string& key = item.key();
      const int g = key.find("router.") != std::string::npos    ? 1
                    : key.find("experts.") != std::string::npos ? 2
                                                                : 0;
      want[g].push_back(key);
    }
    ASSERT_FALSE(want[2].empty());
    if (name != "switch_moe_vit") ASSERT_FALSE(want[1].empty());
    std::map<const void*, std::string> names;
    for (const auto& item : m->named_parameters()) {
      names[item.value().unsafeGetTensorImpl()] = item.key();
    }
    const std::vector<ParamGroup> groups = make_param_groups(*m, 0.5, 2.0);
    std::map<std::string, std::vector<std::string>> got;
    for (const auto& g : groups) {
      for (const auto& p : g.params) got[g.name].push_back(names.at(p.unsafeGetTensorImpl()));
      EXPECT_DOUBLE_EQ(g.lr_multiplier, g.name == "router" ? 0.5 : g.name == "experts" ? 2.0 : 1.0);
    }
    EXPECT_EQ(got["other"], want[0]);
    EXPECT_EQ(got["router"], want[1]);
    EXPECT_EQ(got["experts"], want[2]);
    if (name == "vit_moe") {
      ASSERT_EQ(m->moe_layers().size(), 1u);
      EXPECT_TRUE(m->moe_layers()[0].shared_experts);
    }
  }
}

TEST(Optimizer, RegistryBuildsEachNamedOptimizer) {
  at::Tensor w = at::zeros({1}).requires_grad_(true);
  config::OptimizerConfig c;
  c.lr = 0.01;
  c.weight_decay = 0.1;
  c.name = "adamw";
  auto adamw = make_optimizer({w}, c);
  ASSERT_NE(dynamic_cast<torch::optim::AdamW*>(adamw.get()), nullptr);
  EXPECT_DOUBLE_EQ(
      static_cast<torch::optim::AdamWOptions&>(adamw->param_groups()[0].options()).weight_decay(),
      0.1);
  c.name = "sgd";
  EXPECT_NE(dynamic_cast<torch::optim::SGD*>(make_optimizer({w}, c).get()), nullptr);
  EXPECT_EQ(optimizer_registry().names(), (std::vector<std::string>{"sgd", "adam", "adamw"}));
  c.name = "adamx";
  try {
    make_optimizer({w}, c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'adam'"), std::string::npos) << e.what();
  }
}

// An "expert" that took part in one step and then got no rows: after clear_gradients its
// gradient is undefined and AdamW leaves it exactly where it was (no decay, no moment step),
// as it would after a resume, where every gradient starts undefined.
TEST(Optimizer, ClearGradientsLeavesAParameterWithoutRowsUnstepped) {
  at::Tensor used = at::tensor({1.0, -2.0}, at::kDouble).requires_grad_(true);
  at::Tensor idle = at::tensor({0.5, 3.0}, at::kDouble).requires_grad_(true);
  config::OptimizerConfig c;
  c.name = "adamw";
  c.lr = 0.1;
  c.weight_decay = 0.5;
  auto opt = make_optimizer({used, idle}, c);
  clear_gradients(*opt);
  ((used * used).sum() + (idle * idle).sum()).backward();  // both get rows
  opt->step();
  const at::Tensor idle_after_first = idle.detach().clone();
  clear_gradients(*opt);
  EXPECT_FALSE(used.grad().defined());
  EXPECT_FALSE(idle.grad().defined());
  (used * used).sum().backward();  // only `used` gets rows
  EXPECT_FALSE(idle.grad().defined());
  opt->step();
  EXPECT_TRUE(at::equal(idle.detach(), idle_after_first)) << idle;
  // A zero-filled gradient (LibTorch 1.13's zero_grad) would have moved it: decay and momentum.
  idle.mutable_grad() = at::zeros_like(idle);
  opt->step();
  EXPECT_FALSE(at::equal(idle.detach(), idle_after_first));
}

}  // namespace
}  // namespace moedil::train
