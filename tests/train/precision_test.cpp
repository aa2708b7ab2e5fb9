#include "moedil/train/precision.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace moedil::train {
namespace {

at::Tensor linear_output() {
  const at::Tensor x = at::randn({4, 8});
  const at::Tensor w = at::randn({3, 8});
  return at::linear(x, w);
}

TEST(AutocastGuardTest, Bf16MakesMatmulsBfloat16UntilTheGuardEnds) {
  EXPECT_EQ(linear_output().scalar_type(), at::kFloat);
  {
    const AutocastGuard guard("bf16", c10::Device(c10::kCPU));
    EXPECT_EQ(linear_output().scalar_type(), at::kBFloat16);
    // Reductions that autocast keeps in float stay float.
    EXPECT_EQ(at::softmax(at::randn({2, 3}), -1).scalar_type(), at::kFloat);
  }
  EXPECT_EQ(linear_output().scalar_type(), at::kFloat);
  // LibTorch 2.4 made autocast per device type (as in precision.cpp).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
#else
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
#endif
}

TEST(AutocastGuardTest, NoneChangesNothingAndGuardsNest) {
  {
    const AutocastGuard none("none", c10::Device(c10::kCPU));
    EXPECT_EQ(linear_output().scalar_type(), at::kFloat);
  }
  {
    const AutocastGuard outer("bf16", c10::Device(c10::kCPU));
    {
      const AutocastGuard inner("bf16", c10::Device(c10::kCPU));
      EXPECT_EQ(linear_output().scalar_type(), at::kBFloat16);
    }
    EXPECT_EQ(linear_output().scalar_type(), at::kBFloat16) << "the outer guard still holds";
  }
  EXPECT_EQ(linear_output().scalar_type(), at::kFloat);
}

TEST(AutocastGuardTest, GradientsOfFloatWeightsStayFloat) {
  at::Tensor w = at::randn({3, 8}).requires_grad_(true);
  at::Tensor loss;
  {
    const AutocastGuard guard("bf16", c10::Device(c10::kCPU));
    loss = at::linear(at::randn({4, 8}), w).to(at::kFloat).pow(2).sum();
  }
  loss.backward();
  EXPECT_EQ(w.grad().scalar_type(), at::kFloat);
  EXPECT_GT(w.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace moedil::train
