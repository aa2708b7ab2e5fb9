#include "moedil/model/moe/balance.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>

namespace moedil::model::moe {
namespace {

constexpr double kTol = 1e-9;

TEST(SwitchBalanceLossTest, UniformProbsAndCountsGiveOne) {
  for (int64_t experts : {2, 4, 5}) {
    SCOPED_TRACE(experts);
    const int64_t rows = 3 * experts;
    const at::Tensor probs = at::full({rows, experts}, 1.0 / static_cast<double>(experts), at::kDouble);
    const at::Tensor counts = at::full({experts}, 3, at::kLong);
    const at::Tensor loss = switch_balance_loss(probs, counts);
    EXPECT_EQ(loss.dim(), 0);
    EXPECT_NEAR(loss.item<double>(), 1.0, kTol);
  }
}

TEST(SwitchBalanceLossTest, EverythingOnOneExpertGivesNumExperts) {
  for (int64_t experts : {2, 4, 6}) {
    SCOPED_TRACE(experts);
    const int64_t rows = 5;
    at::Tensor probs = at::zeros({rows, experts}, at::kDouble);
    probs.select(1, 1).fill_(1.0);
    at::Tensor counts = at::zeros({experts}, at::kLong);
    counts[1] = rows;
    EXPECT_NEAR(switch_balance_loss(probs, counts).item<double>(), static_cast<double>(experts),
                kTol);
  }
}

TEST(SwitchBalanceLossTest, IntermediateCaseMatchesHandComputation) {
  // E = 3, R = 2 rows, k = 2: 4 assignments, counts {3, 1, 0}.
  // f = [0.75, 0.25, 0]; P = mean rows = [0.3, 0.45, 0.25].
  // loss = 3 * (0.75 * 0.3 + 0.25 * 0.45 + 0) = 3 * 0.3375 = 1.0125.
  const at::Tensor probs = at::tensor({0.5, 0.3, 0.2, 0.1, 0.6, 0.3}, at::kDouble).reshape({2, 3});
  const at::Tensor counts = at::tensor({3, 1, 0}, at::kLong);
  EXPECT_NEAR(switch_balance_loss(probs, counts).item<double>(), 1.0125, kTol);
}

TEST(SwitchBalanceLossTest, FloatProbsGiveFloatLoss) {
  const at::Tensor probs = at::tensor({0.5f, 0.5f, 0.25f, 0.75f}).reshape({2, 2});
  const at::Tensor counts = at::tensor({1, 1}, at::kLong);
  const at::Tensor loss = switch_balance_loss(probs, counts);
  EXPECT_EQ(loss.scalar_type(), at::kFloat);
  // f = [0.5, 0.5], P = [0.375, 0.625] -> 2 * 0.5 = 1.
  EXPECT_NEAR(loss.item<double>(), 1.0, 1e-6);
}

TEST(SwitchBalanceLossTest, GradientFlowsToProbsOnlyAsEfOverR) {
  // d loss / d probs[r, e] = E * f_e / R (f is a constant).
  const at::Tensor probs = at::tensor({0.5, 0.3, 0.2, 0.1, 0.6, 0.3}, at::kDouble)
                               .reshape({2, 3})
                               .set_requires_grad(true);
  const at::Tensor counts = at::tensor({3, 1, 0}, at::kLong);
  const at::Tensor loss = switch_balance_loss(probs, counts);
  ASSERT_TRUE(loss.requires_grad());
  loss.backward();
  ASSERT_TRUE(probs.grad().defined());
  const at::Tensor expected =
      at::tensor({1.125, 0.375, 0.0, 1.125, 0.375, 0.0}, at::kDouble).reshape({2, 3});
  EXPECT_TRUE(at::allclose(probs.grad(), expected, 1e-12, 1e-12)) << probs.grad();
  EXPECT_FALSE(counts.requires_grad());
  EXPECT_FALSE(counts.grad().defined());
}

TEST(SwitchBalanceLossTest, CountsDrawnFromAGraphGetNoGradient) {
  // Counts derived from the same probabilities (argmax, as a router would) never carry a
  // gradient: the loss is linear in the probabilities.
  const at::Tensor logits = at::tensor({2.0, 0.0, 1.0, 0.0, 3.0, 0.0, 1.0, 1.0, 4.0}, at::kDouble)
                                .reshape({3, 3})
                                .set_requires_grad(true);
  const at::Tensor probs = at::softmax(logits, 1);
  const at::Tensor counts = at::bincount(probs.argmax(1), {}, 3);
  EXPECT_FALSE(counts.requires_grad());
  const at::Tensor loss = switch_balance_loss(probs, counts);
  loss.backward();
  // Reference: E * sum_e f_e * mean_r probs[r, e] with f = counts / R as a constant.
  const at::Tensor logits2 = logits.detach().clone().set_requires_grad(true);
  const at::Tensor f = at::tensor({1.0 / 3, 1.0 / 3, 1.0 / 3}, at::kDouble);
  const at::Tensor ref = 3.0 * (f * at::softmax(logits2, 1).mean(0)).sum();
  ref.backward();
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), kTol);
  EXPECT_TRUE(at::allclose(logits.grad(), logits2.grad(), 1e-12, 1e-12));
}

}  // namespace
}  // namespace moedil::model::moe
