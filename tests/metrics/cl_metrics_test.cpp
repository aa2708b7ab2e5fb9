#include "moedil/metrics/cl_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::metrics {
namespace {

constexpr double kTol = 1e-12;

TEST(ClMetricsTest, SingleDomain) {
  // T = 1, R = [[0.7]], init = [0.1]
  //   ACC = AIA = plasticity = 0.7; BWT, FWT, forgetting undefined (T < 2);
  //   no baseline -> intransience undefined.
  const ClMetrics m = compute_cl_metrics({{0.7}}, {0.1}, std::nullopt);
  EXPECT_NEAR(m.acc, 0.7, kTol);
  EXPECT_NEAR(m.aia, 0.7, kTol);
  EXPECT_NEAR(m.plasticity, 0.7, kTol);
  EXPECT_FALSE(m.bwt.has_value());
  EXPECT_FALSE(m.fwt.has_value());
  EXPECT_FALSE(m.forgetting.has_value());
  EXPECT_FALSE(m.intransience.has_value());
  EXPECT_TRUE(m.forgetting_per_domain.empty());
  EXPECT_EQ(to_string(m),
            "ACC 0.7000 AIA 0.7000 BWT n/a FWT n/a FWT_baseline n/a forgetting n/a "
            "plasticity 0.7000 intransience n/a");
}

TEST(ClMetricsTest, SingleDomainWithBaseline) {
  // T = 1, baseline = [0.9]: intransience = 0.9 - 0.7 = 0.2; FWT still undefined (no j > 0).
  const ClMetrics m = compute_cl_metrics({{0.7}}, {0.1}, std::vector<double>{0.9});
  ASSERT_TRUE(m.intransience.has_value());
  EXPECT_NEAR(*m.intransience, 0.2, kTol);
  EXPECT_FALSE(m.fwt.has_value());
  EXPECT_FALSE(m.fwt_baseline.has_value());
}

TEST(ClMetricsTest, ThreeDomainsWithoutBaseline) {
  // R (rows: after training domain i; cols: evaluated domain j):
  //   i=0: 0.90 0.85 0.20
  //   i=1: 0.70 0.80 0.30
  //   i=2: 0.60 0.50 0.75
  // init = [0.10, 0.20, 0.25]
  //
  // ACC        = (0.60 + 0.50 + 0.75) / 3 = 1.85 / 3 = 0.61666...
  // AIA        = (0.90 + (0.70+0.80)/2 + (0.60+0.50+0.75)/3) / 3
  //            = (0.90 + 0.75 + 1.85/3) / 3 = (6.8/3) / 3 = 6.8 / 9 = 0.75555...
  // plasticity = (0.90 + 0.80 + 0.75) / 3 = 2.45 / 3 = 0.81666...
  // BWT        = ((0.60-0.90) + (0.50-0.80)) / 2 = (-0.30 - 0.30) / 2 = -0.30
  // forgetting_0 = max(R[0][0], R[1][0]) - R[2][0] = max(0.90, 0.70) - 0.60 = 0.30
  // forgetting_1 = max(R[0][1], R[1][1]) - R[2][1] = max(0.85, 0.80) - 0.50 = 0.35
  //   (row i=0 < j=1 wins here: the project's max runs over ALL i < T-1; a definition
  //    restricted to i >= j would give 0.80 - 0.50 = 0.30)
  // forgetting = (0.30 + 0.35) / 2 = 0.325
  // FWT (b = init) = ((R[0][1]-init[1]) + (R[1][2]-init[2])) / 2
  //            = ((0.85-0.20) + (0.30-0.25)) / 2 = (0.65 + 0.05) / 2 = 0.35
  // intransience: undefined without a baseline.
  const Matrix R = {{0.90, 0.85, 0.20}, {0.70, 0.80, 0.30}, {0.60, 0.50, 0.75}};
  const ClMetrics m = compute_cl_metrics(R, {0.10, 0.20, 0.25}, std::nullopt);
  EXPECT_NEAR(m.acc, 1.85 / 3.0, kTol);
  EXPECT_NEAR(m.aia, 6.8 / 9.0, kTol);
  EXPECT_NEAR(m.plasticity, 2.45 / 3.0, kTol);
  ASSERT_TRUE(m.bwt.has_value());
  EXPECT_NEAR(*m.bwt, -0.30, kTol);
  ASSERT_EQ(m.forgetting_per_domain.size(), 2u);
  EXPECT_NEAR(m.forgetting_per_domain[0], 0.30, kTol);
  EXPECT_NEAR(m.forgetting_per_domain[1], 0.35, kTol);
  ASSERT_TRUE(m.forgetting.has_value());
  EXPECT_NEAR(*m.forgetting, 0.325, kTol);
  ASSERT_TRUE(m.fwt.has_value());
  EXPECT_NEAR(*m.fwt, 0.35, kTol);
  EXPECT_FALSE(m.fwt_baseline.has_value());  // no baselines ran
  EXPECT_FALSE(m.intransience.has_value());
  EXPECT_EQ(to_string(m),
            "ACC 0.6167 AIA 0.7556 BWT -0.3000 FWT 0.3500 FWT_baseline n/a forgetting 0.3250 "
            "plasticity 0.8167 intransience n/a");
}

TEST(ClMetricsTest, FourDomainsWithBaseline) {
  // R:
  //   i=0: 0.8 0.3 0.2 0.1
  //   i=1: 0.6 0.9 0.4 0.2
  //   i=2: 0.5 0.7 0.7 0.5
  //   i=3: 0.4 0.8 0.6 0.9
  // init = [0.1, 0.1, 0.1, 0.1], baseline = [0.85, 0.95, 0.8, 0.9]
  //
  // ACC        = (0.4 + 0.8 + 0.6 + 0.9) / 4 = 2.7 / 4 = 0.675
  // AIA        = (0.8 + (0.6+0.9)/2 + (0.5+0.7+0.7)/3 + 0.675) / 4
  //            = (0.8 + 0.75 + 1.9/3 + 0.675) / 4 = ((6.675 + 1.9)/3) / 4 = 8.575 / 12
  //            = 0.7145833...
  // plasticity = (0.8 + 0.9 + 0.7 + 0.9) / 4 = 3.3 / 4 = 0.825
  // BWT        = ((0.4-0.8) + (0.8-0.9) + (0.6-0.7)) / 3 = (-0.4 - 0.1 - 0.1) / 3 = -0.2
  // forgetting_0 = max(0.8, 0.6, 0.5) - 0.4 = 0.4
  // forgetting_1 = max(0.3, 0.9, 0.7) - 0.8 = 0.1
  // forgetting_2 = max(0.2, 0.4, 0.7) - 0.6 = 0.1
  // forgetting = (0.4 + 0.1 + 0.1) / 3 = 0.2
  // FWT (GEM, against init, also when baselines ran)
  //            = ((R[0][1]-init[1]) + (R[1][2]-init[2]) + (R[2][3]-init[3])) / 3
  //            = ((0.3-0.1) + (0.4-0.1) + (0.5-0.1)) / 3 = (0.2 + 0.3 + 0.4) / 3 = 0.3
  // FWT_baseline = ((R[0][1]-b[1]) + (R[1][2]-b[2]) + (R[2][3]-b[3])) / 3
  //            = ((0.3-0.95) + (0.4-0.8) + (0.5-0.9)) / 3 = (-0.65 - 0.4 - 0.4) / 3
  //            = -1.45 / 3 = -0.48333...
  // intransience = ((0.85-0.8) + (0.95-0.9) + (0.8-0.7) + (0.9-0.9)) / 4
  //            = (0.05 + 0.05 + 0.1 + 0) / 4 = 0.2 / 4 = 0.05
  const Matrix R = {{0.8, 0.3, 0.2, 0.1},
                    {0.6, 0.9, 0.4, 0.2},
                    {0.5, 0.7, 0.7, 0.5},
                    {0.4, 0.8, 0.6, 0.9}};
  const std::vector<double> init = {0.1, 0.1, 0.1, 0.1};
  const std::vector<double> baseline = {0.85, 0.95, 0.8, 0.9};
  const ClMetrics m = compute_cl_metrics(R, init, baseline);
  EXPECT_NEAR(m.acc, 0.675, kTol);
  EXPECT_NEAR(m.aia, 8.575 / 12.0, kTol);
  EXPECT_NEAR(m.plasticity, 0.825, kTol);
  ASSERT_TRUE(m.bwt.has_value());
  EXPECT_NEAR(*m.bwt, -0.2, kTol);
  ASSERT_EQ(m.forgetting_per_domain.size(), 3u);
  EXPECT_NEAR(m.forgetting_per_domain[0], 0.4, kTol);
  EXPECT_NEAR(m.forgetting_per_domain[1], 0.1, kTol);
  EXPECT_NEAR(m.forgetting_per_domain[2], 0.1, kTol);
  ASSERT_TRUE(m.forgetting.has_value());
  EXPECT_NEAR(*m.forgetting, 0.2, kTol);
  ASSERT_TRUE(m.fwt.has_value());
  EXPECT_NEAR(*m.fwt, 0.3, kTol);
  ASSERT_TRUE(m.fwt_baseline.has_value());
  EXPECT_NEAR(*m.fwt_baseline, -1.45 / 3.0, kTol);
  ASSERT_TRUE(m.intransience.has_value());
  EXPECT_NEAR(*m.intransience, 0.05, kTol);
  EXPECT_EQ(to_string(m),
            "ACC 0.6750 AIA 0.7146 BWT -0.2000 FWT 0.3000 FWT_baseline -0.4833 forgetting 0.2000 "
            "plasticity 0.8250 intransience 0.0500");

  // Same R without a baseline: FWT is the same number (it never depends on the baselines);
  // FWT_baseline and intransience disappear.
  const ClMetrics no_base = compute_cl_metrics(R, init, std::nullopt);
  ASSERT_TRUE(no_base.fwt.has_value());
  EXPECT_NEAR(*no_base.fwt, 0.3, kTol);
  EXPECT_FALSE(no_base.fwt_baseline.has_value());
  EXPECT_FALSE(no_base.intransience.has_value());
  EXPECT_NEAR(no_base.acc, 0.675, kTol);
}

TEST(ClMetricsTest, NegativeForgettingWhenAccuracyImproves) {
  // T = 2, R = [[0.5, 0.1], [0.6, 0.9]], init = [0, 0]
  //   forgetting_0 = R[0][0] - R[1][0] = 0.5 - 0.6 = -0.1 (not clamped)
  //   BWT = 0.6 - 0.5 = 0.1; FWT = R[0][1] - init[1] = 0.1
  //   AIA = (0.5 + (0.6+0.9)/2) / 2 = (0.5 + 0.75) / 2 = 0.625
  const ClMetrics m = compute_cl_metrics({{0.5, 0.1}, {0.6, 0.9}}, {0.0, 0.0}, std::nullopt);
  ASSERT_EQ(m.forgetting_per_domain.size(), 1u);
  EXPECT_NEAR(m.forgetting_per_domain[0], -0.1, kTol);
  EXPECT_NEAR(*m.forgetting, -0.1, kTol);
  EXPECT_NEAR(*m.bwt, 0.1, kTol);
  EXPECT_NEAR(*m.fwt, 0.1, kTol);
  EXPECT_NEAR(m.aia, 0.625, kTol);
  EXPECT_NEAR(m.acc, 0.75, kTol);
}

TEST(ClMetricsTest, RejectsEmptyMatrix) {
  EXPECT_THROW(compute_cl_metrics({}, {}, std::nullopt), moedil::Error);
}

TEST(ClMetricsTest, RejectsNonSquareMatrix) {
  // 2 rows of 3 columns.
  EXPECT_THROW(compute_cl_metrics({{0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}}, {0.0, 0.0}, std::nullopt),
               moedil::Error);
  // Ragged: second row short.
  EXPECT_THROW(compute_cl_metrics({{0.1, 0.2}, {0.4}}, {0.0, 0.0}, std::nullopt), moedil::Error);
  try {
    compute_cl_metrics({{0.1, 0.2}, {0.4}}, {0.0, 0.0}, std::nullopt);
    FAIL() << "expected moedil::Error";
  } catch (const moedil::Error& e) {
    EXPECT_NE(std::string(e.what()).find("square"), std::string::npos) << e.what();
  }
}

TEST(ClMetricsTest, RejectsWrongInitSize) {
  const Matrix R = {{0.5, 0.1}, {0.6, 0.9}};
  EXPECT_THROW(compute_cl_metrics(R, {0.0}, std::nullopt), moedil::Error);
  EXPECT_THROW(compute_cl_metrics(R, {0.0, 0.0, 0.0}, std::nullopt), moedil::Error);
  try {
    compute_cl_metrics(R, {0.0}, std::nullopt);
    FAIL() << "expected moedil::Error";
  } catch (const moedil::Error& e) {
    EXPECT_NE(std::string(e.what()).find("init_acc"), std::string::npos) << e.what();
  }
}

TEST(ClMetricsTest, RejectsWrongBaselineSize) {
  const Matrix R = {{0.5, 0.1}, {0.6, 0.9}};
  EXPECT_THROW(compute_cl_metrics(R, {0.0, 0.0}, std::vector<double>{0.9}), moedil::Error);
  EXPECT_THROW(compute_cl_metrics(R, {0.0, 0.0}, std::vector<double>{}), moedil::Error);
}

TEST(ClMetricsTest, RejectsNonFiniteValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(compute_cl_metrics({{0.5, nan}, {0.6, 0.9}}, {0.0, 0.0}, std::nullopt),
               moedil::Error);
  EXPECT_THROW(compute_cl_metrics({{0.5, 0.1}, {0.6, 0.9}}, {0.0, nan}, std::nullopt),
               moedil::Error);
  EXPECT_THROW(
      compute_cl_metrics({{0.5, 0.1}, {0.6, 0.9}}, {0.0, 0.0}, std::vector<double>{nan, 0.9}),
      moedil::Error);
}

}  // namespace
}  // namespace moedil::metrics
