#include "moedil/metrics/predecessor_metrics.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::metrics {
namespace {

constexpr double kTol = 1e-12;

// R (3 domains):            baseline_acc = [0.9, 0.8, 0.7]
//   [0.8, 0.3, 0.2]
//   [0.6, 0.7, 0.4]
//   [0.5, 0.6, 0.9]
const Matrix kR = {{0.8, 0.3, 0.2}, {0.6, 0.7, 0.4}, {0.5, 0.6, 0.9}};
const std::vector<double> kBaseline = {0.9, 0.8, 0.7};

TEST(PredecessorMetricsTest, HandComputedWithBaselines) {
  const PredecessorMetrics p = predecessor_metrics(kR, kBaseline);
  // AIA: the last row's mean (0.5 + 0.6 + 0.9) / 3 = 2/3, which moedil calls ACC.
  EXPECT_NEAR(p.aia, 2.0 / 3.0, kTol);
  // FWT: ((R[0][1] - b[1]) + (R[1][2] - b[2])) / 2 = ((0.3 - 0.8) + (0.4 - 0.7)) / 2 = -0.4
  ASSERT_TRUE(p.fwt.has_value());
  EXPECT_NEAR(*p.fwt, -0.4, kTol);
  // intransigence: b[2] - R[2][2] = 0.7 - 0.9 = -0.2 (moedil's mean over domains:
  // ((0.9 - 0.8) + (0.8 - 0.7) + (0.7 - 0.9)) / 3 = 0)
  ASSERT_TRUE(p.intransigence.has_value());
  EXPECT_NEAR(*p.intransigence, -0.2, kTol);
  const ClMetrics moedil = compute_cl_metrics(kR, {0.1, 0.1, 0.1}, kBaseline);
  EXPECT_NEAR(*moedil.intransience, 0.0, kTol);
  EXPECT_NEAR(moedil.aia, (0.8 + (0.6 + 0.7) / 2 + 2.0 / 3.0) / 3, kTol);
}

TEST(PredecessorMetricsTest, NoBaselinesNoFwtNoIntransigence) {
  const PredecessorMetrics p = predecessor_metrics(kR, std::nullopt);
  EXPECT_NEAR(p.aia, 2.0 / 3.0, kTol);
  EXPECT_FALSE(p.fwt.has_value());
  EXPECT_FALSE(p.intransigence.has_value());
}

TEST(PredecessorMetricsTest, OneDomain) {
  const PredecessorMetrics p = predecessor_metrics({{0.4}}, std::vector<double>{0.5});
  EXPECT_NEAR(p.aia, 0.4, kTol);
  EXPECT_FALSE(p.fwt.has_value());
  ASSERT_TRUE(p.intransigence.has_value());
  EXPECT_NEAR(*p.intransigence, 0.1, kTol);
}

TEST(PredecessorMetricsTest, RefusesWhatComputeClMetricsRefuses) {
  EXPECT_THROW(predecessor_metrics({}, std::nullopt), Error);
  EXPECT_THROW(predecessor_metrics({{0.1, 0.2}}, std::nullopt), Error);
  EXPECT_THROW(predecessor_metrics(kR, std::vector<double>{0.1}), Error);
}

}  // namespace
}  // namespace moedil::metrics
