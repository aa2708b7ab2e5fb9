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
    c.patch_size = 7;
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

// Transfer: backbone_lr_multiplier puts every parameter outside the heads, routers and experts
// in a "backbone" group at that multiplier; the head stays in "other" at 1.
TEST(Optimizer, BackboneMultiplierScalesEverythingButHeadsRoutersAndExperts) {
  config::ModelConfig c;
  c.name = "vit_moe";
  c.patch_size = 7;
  c.embed_dim = 16;
  c.depth = 2;
  c.num_heads = 2;
  c.moe_layer_indices = {1};
  const model::Classifier m = model::make_model(c, {1, 28, 28, 10});
  std::map<const void*, std::string> names;
  for (const auto& item : m->named_parameters()) {
    names[item.value().unsafeGetTensorImpl()] = item.key();
  }
  const auto groups = make_param_groups(*m, 0.5, 2.0, {}, {}, 0.1);
  std::vector<std::string> group_names;
  std::map<std::string, std::string> group_of;
  for (const auto& g : groups) {
    group_names.push_back(g.name);
    EXPECT_DOUBLE_EQ(g.lr_multiplier, g.name == "backbone" ? 0.1
                                      : g.name == "router" ? 0.5
                                      : g.name == "experts" ? 2.0
                                                            : 1.0);
    for (const auto& p : g.params) group_of[names.at(p.unsafeGetTensorImpl())] = g.name;
  }
  EXPECT_EQ(group_names, (std::vector<std::string>{"other", "backbone", "router", "experts"}));
  ASSERT_EQ(group_of.size(), names.size());
  for (const auto& [key, group] : group_of) {
    const std::string want = key.rfind("head.", 0) == 0                  ? "other"
                             : key.find(".router.") != std::string::npos  ? "router"
                             : key.find(".experts.") != std::string::npos ? "experts"
                                                                          : "backbone";
    EXPECT_EQ(group, want) << key;
  }
  // At 1 (the default) the groups are the three of before.
  EXPECT_EQ(make_param_groups(*m, 0.5, 2.0, {}, {}, 1.0).size(), 3u);
}

// The predecessor's per-expert LR factors: expert e of every layer at expert multiplier x
// factors[min(e, size - 1)]; one group per factor that is not 1. Its shared-experts-only layers
// (0 routed experts) have no router; their experts take the factors too.
TEST(Optimizer, PerExpertFactorsGroupTheExpertsOfEveryLayer) {
  config::ModelConfig c;
  c.name = "vit_moe";
  c.patch_size = 7;
  c.embed_dim = 16;
  c.depth = 4;
  c.num_heads = 2;
  c.moe_layer_indices = {1, 3};
  c.moe_num_unshared_experts = 3;
  c.moe_num_shared_experts = 2;
  const model::InputShape shape{1, 28, 28, 10};
  const model::Classifier m = model::make_model(c, shape);
  std::map<const void*, std::string> names;
  for (const auto& item : m->named_parameters()) {
    names[item.value().unsafeGetTensorImpl()] = item.key();
  }
  const auto group_of = [&](const std::vector<ParamGroup>& groups) {
    std::map<std::string, std::pair<std::string, double>> out;  // parameter -> group, multiplier
    for (const auto& g : groups) {
      for (const auto& p : g.params) out[names.at(p.unsafeGetTensorImpl())] = {g.name, g.lr_multiplier};
    }
    return out;
  };
  // Routed factors [1, 0.5] (expert 2: past the end, 0.5); shared [0.1] (every shared expert).
  const auto groups = make_param_groups(*m, 0.5, 2.0, {1.0, 0.5}, {0.1});
  ASSERT_EQ(groups.size(), 5u);
  EXPECT_EQ(groups[3].name, "experts x0.5");
  EXPECT_EQ(groups[4].name, "experts x0.1");
  const auto got = group_of(groups);
  ASSERT_EQ(got.size(), names.size());
  for (const char* layer : {"blocks.1.moe.", "blocks.3.moe."}) {
    const std::string l = layer;
    EXPECT_EQ(got.at(l + "experts.0.fc1.weight"), (std::pair<std::string, double>{"experts", 2.0}));
    EXPECT_EQ(got.at(l + "experts.1.fc2.bias"),
              (std::pair<std::string, double>{"experts x0.5", 1.0}));
    EXPECT_EQ(got.at(l + "experts.2.fc1.bias"),
              (std::pair<std::string, double>{"experts x0.5", 1.0}));
    EXPECT_EQ(got.at(l + "shared_experts.0.fc1.weight").first, "experts x0.1");
    EXPECT_NEAR(got.at(l + "shared_experts.1.fc2.weight").second, 0.2, 1e-12);
    EXPECT_EQ(got.at(l + "router.gate.weight").first, "router");
  }
  // No factors: the three groups as ever.
  EXPECT_EQ(make_param_groups(*m, 0.5, 2.0).size(), 3u);

  // Shared experts only: no router group; the factors [1, 0.5, 0.01] per shared expert.
  c.moe_num_unshared_experts = 0;
  c.moe_top_k = 0;
  c.moe_num_shared_experts = 3;
  const model::Classifier ensemble = model::make_model(c, shape);
  EXPECT_TRUE(ensemble->moe_layers().empty());
  ASSERT_EQ(ensemble->unrouted_layers().size(), 2u);
  names.clear();
  for (const auto& item : ensemble->named_parameters()) {
    names[item.value().unsafeGetTensorImpl()] = item.key();
  }
  const auto scaled = make_param_groups(*ensemble, 0.1, 1.0, {}, {1.0, 0.5, 0.01});
  std::vector<std::string> group_names;
  for (const auto& g : scaled) group_names.push_back(g.name);
  EXPECT_EQ(group_names,
            (std::vector<std::string>{"other", "experts", "experts x0.5", "experts x0.01"}));
  const auto by_param = group_of(scaled);
  EXPECT_EQ(by_param.at("blocks.3.moe.shared_experts.0.fc1.weight").first, "experts");
  EXPECT_EQ(by_param.at("blocks.1.moe.shared_experts.1.fc1.weight").second, 0.5);
  EXPECT_EQ(by_param.at("blocks.3.moe.shared_experts.2.fc2.bias").second, 0.01);
  EXPECT_EQ(by_param.at("blocks.0.mlp.fc1.weight").first, "other");
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
