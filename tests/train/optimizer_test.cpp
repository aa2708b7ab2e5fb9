#include "moedil/train/optimizer.h"

#include <gtest/gtest.h>

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "moedil/common/error.h"

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
