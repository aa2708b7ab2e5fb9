#include "moedil/model/moe/mixture.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "moedil/common/error.h"

namespace moedil::model::moe {
namespace {

/// A hand-built routing of 4 rows over 3 experts, top-1: rows 0, 1 -> expert 2; 2 -> 0; 3 -> 2.
Routing hand_routing() {
  Routing r;
  r.probs = at::tensor({0.1, 0.2, 0.7, 0.2, 0.2, 0.6, 0.5, 0.3, 0.2, 0.1, 0.1, 0.8},
                       at::kFloat)
                .reshape({4, 3});
  r.logits = r.probs.log();
  r.expert_idx = at::tensor({2, 2, 0, 2}, at::kLong).reshape({4, 1});
  r.gates = at::tensor({0.7, 0.6, 0.5, 0.8}, at::kFloat).reshape({4, 1});
  r.available = at::ones({3}, at::kBool);
  return r;
}

/// Expert e multiplies its rows by (e + 1) and counts its calls.
struct ScaleExperts {
  int calls[3] = {0, 0, 0};
  ExpertFn fn() {
    return [this](int64_t e, const at::Tensor& rows) {
      ++calls[e];
      return rows * static_cast<double>(e + 1);
    };
  }
};

TEST(MixtureTest, GatedExpertOutputsOnImageRows) {
  Mixture mixture(MixtureOptions(3));
  ScaleExperts experts;
  const at::Tensor rows = at::arange(4 * 2 * 3 * 3, at::kFloat).reshape({4, 2, 3, 3});
  const at::Tensor out = mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/true);
  ASSERT_EQ(out.sizes(), rows.sizes());
  const double expected_scale[4] = {0.7 * 3, 0.6 * 3, 0.5 * 1, 0.8 * 3};
  for (int r = 0; r < 4; ++r) {
    EXPECT_TRUE(out[r].allclose(rows[r] * expected_scale[r])) << "row " << r;
  }
  EXPECT_EQ(experts.calls[0], 1);
  EXPECT_EQ(experts.calls[1], 0) << "an expert with no rows is not run";
  EXPECT_EQ(experts.calls[2], 1) << "each expert runs once on all of its rows";
  EXPECT_EQ(mixture.usage(true), (std::vector<int64_t>{1, 0, 3}));
  EXPECT_TRUE(mixture.balance_loss().defined());
}

TEST(MixtureTest, SelectionCountsOnlyInTrainingUntilReset) {
  Mixture mixture(MixtureOptions(3));
  ScaleExperts experts;
  const at::Tensor rows = at::ones({4, 2});
  EXPECT_TRUE(mixture.selection_counts().equal(at::zeros({3}, at::kLong)));
  mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/true);
  mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/false);
  EXPECT_TRUE(mixture.selection_counts().equal(at::tensor({1, 0, 3}, at::kLong)));
  EXPECT_FALSE(mixture.balance_loss().defined()) << "no balance loss after an evaluation";
  mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/true);
  EXPECT_TRUE(mixture.selection_counts().equal(at::tensor({2, 0, 6}, at::kLong)));
  // Usage resets per epoch; selection counts only when asked (per domain).
  mixture.reset_usage(true);
  EXPECT_TRUE(mixture.selection_counts().equal(at::tensor({2, 0, 6}, at::kLong)));
  mixture.reset_selection_counts();
  EXPECT_TRUE(mixture.selection_counts().equal(at::zeros({3}, at::kLong)));
  mixture.set_selection_counts(at::tensor({4, 5, 6}, at::kLong));
  mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/true);
  EXPECT_TRUE(mixture.selection_counts().equal(at::tensor({5, 5, 9}, at::kLong)));
}

TEST(MixtureTest, ForcedExpertTakesEveryRowWithTheRoutersProbability) {
  Mixture mixture(MixtureOptions(3));
  ScaleExperts experts;
  mixture.force_expert(1);
  const at::Tensor rows = at::ones({4, 2});
  const at::Tensor out = mixture.forward(hand_routing(), rows, experts.fn(), false);
  EXPECT_EQ(mixture.usage(false), (std::vector<int64_t>{0, 4, 0}));
  // Gate = the router's probability of expert 1, times the expert's scale 2.
  EXPECT_TRUE(out.select(1, 0).allclose(at::tensor({0.4f, 0.4f, 0.6f, 0.2f})));
  EXPECT_THROW(mixture.force_expert(3), UsageError);
  mixture.force_expert(-1);
  mixture.forward(hand_routing(), rows, experts.fn(), false);
  EXPECT_EQ(mixture.usage(false), (std::vector<int64_t>{1, 4, 3}));
}

TEST(MixtureTest, OutputVarianceUsesTheMeanOutputOfEachExpertThatRan) {
  Mixture mixture(MixtureOptions(3).balance_losses({{"output_variance", 1.0}}));
  ScaleExperts experts;
  // Rows 0, 1, 3 -> expert 2 (outputs 3 * row), row 2 -> expert 0 (outputs 1 * row).
  const at::Tensor rows = at::tensor({1.0f, 2.0f, 4.0f, 3.0f}).reshape({4, 1});
  mixture.forward(hand_routing(), rows, experts.fn(), /*training=*/true);
  // Expert 2's mean output (3 + 6 + 9) / 3 = 6, expert 0's 4: variance over the two = 1.
  EXPECT_NEAR(mixture.balance_loss().item<double>(), 1.0, 1e-6);
}

TEST(MixtureTest, InvalidOptionsAreRefused) {
  EXPECT_THROW(Mixture(MixtureOptions(3).top_k(4)), c10::Error);
  EXPECT_THROW(Mixture(MixtureOptions(3).routing("everyone")), c10::Error);
  EXPECT_THROW(Mixture(MixtureOptions(3).capacity_factor(-1.0)), c10::Error);
  EXPECT_THROW(Mixture(MixtureOptions(3).balance_losses({{"swich", 1.0}})), c10::Error);
}

}  // namespace
}  // namespace moedil::model::moe
