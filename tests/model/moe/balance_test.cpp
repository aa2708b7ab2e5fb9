#include "moedil/model/moe/balance.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

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

// The hand example shared by the losses below: E = 3, R = 2, counts {3, 1, 0}.
at::Tensor hand_probs() {
  return at::tensor({0.5, 0.3, 0.2, 0.1, 0.6, 0.3}, at::kDouble).reshape({2, 3});
}
at::Tensor hand_counts() { return at::tensor({3, 1, 0}, at::kLong); }

TEST(BalanceLossesTest, ImportanceLoadMatchesHandComputation) {
  // importance = [0.6, 0.9, 0.5], mean 2/3, population var 0.0866667 / 3 = 0.0288889,
  // cv^2 = 0.0288889 / (4/9) = 0.065. load = [3, 1, 0], mean 4/3, var 14/9, cv^2 = 0.875.
  EXPECT_NEAR(importance_load_loss(hand_probs(), hand_counts()).item<double>(), 0.94, kTol);
  // Uniform importance and load give 0.
  const at::Tensor uniform = at::full({4, 2}, 0.5, at::kDouble);
  EXPECT_NEAR(importance_load_loss(uniform, at::tensor({2, 2}, at::kLong)).item<double>(), 0.0,
              kTol);
}

TEST(BalanceLossesTest, MeanProbMseMatchesHandComputation) {
  // P = [0.3, 0.45, 0.25], 1/E = 1/3: ((-1/30)^2 + (7/60)^2 + (-1/12)^2) / 3
  //   = (0.00111111 + 0.01361111 + 0.00694444) / 3 = 0.00722222.
  EXPECT_NEAR(mean_prob_mse_loss(hand_probs()).item<double>(),
              (1.0 / 900 + 49.0 / 3600 + 1.0 / 144) / 3, kTol);
  EXPECT_NEAR(mean_prob_mse_loss(at::full({3, 4}, 0.25, at::kDouble)).item<double>(), 0.0, kTol);
  // Its gradient pulls the over-used expert's probability down: dL/dp[r][e] = 2 (P_e - 1/E) /
  // (E R).
  const at::Tensor p = hand_probs().clone().requires_grad_();
  mean_prob_mse_loss(p).backward();
  EXPECT_NEAR(p.grad()[0][1].item<double>(), 2 * (0.45 - 1.0 / 3) / 6, kTol);
  EXPECT_NEAR(p.grad()[1][0].item<double>(), 2 * (0.3 - 1.0 / 3) / 6, kTol);
}

TEST(BalanceLossesTest, EntropyMatchesHandComputation) {
  // Row 0: -(0.5 ln 0.5 + 0.3 ln 0.3 + 0.2 ln 0.2) = 1.0296530; row 1: 0.8979457; mean 0.9637994.
  EXPECT_NEAR(entropy_loss(hand_probs()).item<double>(), 0.9637993694606768, kTol);
  // A one-hot row has entropy 0 (0 log 0 = 0, no NaN); a uniform row ln 2.
  const at::Tensor p = at::tensor({1.0, 0.0, 0.5, 0.5}, at::kDouble).reshape({2, 2});
  EXPECT_NEAR(entropy_loss(p).item<double>(), std::log(2.0) / 2.0, kTol);
}

TEST(BalanceLossesTest, ColumnEntropyMatchesHandComputation) {
  // P = [0.3, 0.45, 0.25]: 0.3 ln 0.3 + 0.45 ln 0.45 + 0.25 ln 0.25 = -1.0670939.
  EXPECT_NEAR(column_entropy_loss(hand_probs()).item<double>(), -1.0670938948757507, kTol);
  // Uniform mean use reaches the minimum -ln E although every row is one-hot.
  const at::Tensor p = at::tensor({1.0, 0.0, 0.0, 1.0}, at::kDouble).reshape({2, 2});
  EXPECT_NEAR(column_entropy_loss(p).item<double>(), -std::log(2.0), kTol);
}

TEST(BalanceLossesTest, OutputVarianceIsTheVarianceOfTheExpertsMeanOutputs) {
  // Three experts' mean outputs over two features: feature 0 = {1, 2, 6} (mean 3, variance
  // (4 + 1 + 9) / 3 = 14/3), feature 1 = {0, 0, 3} (mean 1, variance (1 + 1 + 4) / 3 = 2);
  // averaged over the features: (14/3 + 2) / 2 = 10/3.
  const at::Tensor means =
      at::tensor({1.0, 0.0, 2.0, 0.0, 6.0, 3.0}, at::kDouble).reshape({3, 2});
  EXPECT_NEAR(output_variance_loss(means).item<double>(), 10.0 / 3.0, kTol);
  // Identical experts, or a single one, give 0.
  EXPECT_EQ(output_variance_loss(at::ones({4, 5}, at::kDouble)).item<double>(), 0.0);
  EXPECT_EQ(output_variance_loss(means.slice(0, 0, 1)).item<double>(), 0.0);
  // Through weighted_balance_loss: with no means given it adds nothing.
  const at::Tensor logits = at::zeros({4, 3}, at::kDouble);
  EXPECT_NEAR(weighted_balance_loss({{"output_variance", 0.5}}, hand_probs(), hand_counts(), logits,
                                    means)
                  .item<double>(),
              5.0 / 3.0, kTol);
  EXPECT_EQ(
      weighted_balance_loss({{"output_variance", 1.0}}, hand_probs(), hand_counts(), logits)
          .item<double>(),
      0.0);
}

TEST(BalanceLossesTest, ZLossMatchesHandComputation) {
  // logsumexp([0, 0]) = ln 2, logsumexp([0, ln 3]) = ln 4 = 2 ln 2: (ln2^2 + 4 ln2^2) / 2.
  const at::Tensor logits =
      at::tensor({0.0, 0.0, 0.0, std::log(3.0)}, at::kDouble).reshape({2, 2});
  EXPECT_NEAR(z_loss(logits).item<double>(), 2.5 * std::log(2.0) * std::log(2.0), kTol);
}

TEST(BalanceLossesTest, WeightedSumOfTheSelectedLosses) {
  const at::Tensor logits =
      at::tensor({0.0, 0.0, 1.0, 0.0, 0.0, std::log(3.0)}, at::kDouble).reshape({2, 3});
  const double z = z_loss(logits).item<double>();
  const at::Tensor both = weighted_balance_loss({{"switch", 1.0}, {"z_loss", 0.5}}, hand_probs(),
                                                hand_counts(), logits);
  EXPECT_NEAR(both.item<double>(), 1.0125 + 0.5 * z, kTol);
  // Weight 1 on switch alone is the switch loss bit for bit (today's default).
  const at::Tensor only = weighted_balance_loss({{"switch", 1.0}}, hand_probs(), hand_counts(),
                                                logits);
  EXPECT_TRUE(at::equal(only, switch_balance_loss(hand_probs(), hand_counts())));
  EXPECT_NEAR(weighted_balance_loss({{"entropy", 2.0}, {"importance_load", 0.1}}, hand_probs(),
                                    hand_counts(), logits)
                  .item<double>(),
              2.0 * 0.9637993694606768 + 0.1 * 0.94, kTol);
  EXPECT_EQ(weighted_balance_loss({}, hand_probs(), hand_counts(), logits).item<double>(), 0.0);
  try {
    weighted_balance_loss({{"swich", 1.0}}, hand_probs(), hand_counts(), logits);
    FAIL() << "expected c10::Error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'switch'"), std::string::npos) << e.what();
  }
}

TEST(BalanceLossRegistryTest, HoldsTheSevenLossesWithDescriptions) {
  EXPECT_EQ(balance_loss_registry().names(),
            (std::vector<std::string>{"switch", "mean_prob_mse", "importance_load", "entropy",
                                      "column_entropy", "output_variance", "z_loss"}));
  EXPECT_EQ(balance_loss_registry().what(), "balance loss");
  for (const auto& entry : balance_loss_registry().entries()) {
    SCOPED_TRACE(entry.name);
    EXPECT_FALSE(entry.description.empty());
    EXPECT_TRUE(static_cast<bool>(entry.build.compute));
    // Only output_variance reads the experts' mean outputs.
    EXPECT_EQ(entry.build.needs_expert_means, entry.name == "output_variance");
  }
  EXPECT_TRUE(needs_expert_means({{"switch", 1.0}, {"output_variance", 0.5}}));
  EXPECT_FALSE(needs_expert_means({{"switch", 1.0}, {"z_loss", 0.5}}));
  EXPECT_FALSE(needs_expert_means({{"unknown", 1.0}}));
}

TEST(BalanceLossRegistryTest, EachEntryComputesItsLoss) {
  const at::Tensor logits =
      at::tensor({0.0, 0.0, 1.0, 0.0, 0.0, std::log(3.0)}, at::kDouble).reshape({2, 3});
  const at::Tensor means = at::tensor({1.0, 2.0, 3.0, 5.0}, at::kDouble).reshape({2, 2});
  const BalanceInputs in{hand_probs(), hand_counts(), logits, means};
  const auto loss = [&](const std::string& name) {
    return balance_loss_registry().get(name).build.compute(in);
  };
  EXPECT_TRUE(at::equal(loss("switch"), switch_balance_loss(hand_probs(), hand_counts())));
  EXPECT_TRUE(at::equal(loss("importance_load"),
                        importance_load_loss(hand_probs(), hand_counts())));
  EXPECT_TRUE(at::equal(loss("entropy"), entropy_loss(hand_probs())));
  EXPECT_TRUE(at::equal(loss("column_entropy"), column_entropy_loss(hand_probs())));
  EXPECT_TRUE(at::equal(loss("output_variance"), output_variance_loss(means)));
  EXPECT_TRUE(at::equal(loss("z_loss"), z_loss(logits)));
  // Without the experts' means (none collected), output_variance is 0.
  const BalanceInputs no_means{hand_probs(), hand_counts(), logits, at::Tensor()};
  EXPECT_EQ(balance_loss_registry().get("output_variance").build.compute(no_means).item<double>(),
            0.0);
}

}  // namespace
}  // namespace moedil::model::moe
