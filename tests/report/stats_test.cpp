#include "moedil/report/stats.h"

#include <cmath>

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil::report {
namespace {

TEST(ReportStudentT, TabulatedValues) {
  EXPECT_DOUBLE_EQ(student_t_975(1), 12.7062);
  EXPECT_DOUBLE_EQ(student_t_975(2), 4.3027);
  EXPECT_DOUBLE_EQ(student_t_975(9), 2.2622);
  EXPECT_DOUBLE_EQ(student_t_975(30), 2.0423);
  EXPECT_NEAR(student_t_975(40), 2.0211, 1e-12);
  EXPECT_NEAR(student_t_975(120), 1.9799, 1e-12);
}

TEST(ReportStudentT, InterpolatesInReciprocalDf) {
  // df 50 lies between 40 and 60: 1/50 = 0.02 is 0.4 of the way from 1/60 to 1/40.
  EXPECT_NEAR(student_t_975(50), 2.0003 + (2.0211 - 2.0003) * 0.4, 1e-9);
  EXPECT_GT(student_t_975(1000), 1.96);
  EXPECT_NEAR(student_t_975(1000), 1.9623, 1e-3);  // exact: 1.96234
  for (int df = 1; df < 500; ++df) EXPECT_GE(student_t_975(df), student_t_975(df + 1)) << df;
}

TEST(ReportStudentT, RejectsZeroDf) { EXPECT_THROW(student_t_975(0), Error); }

TEST(ReportPopulationStats, FourValuesByHand) {
  const auto s = population_stats({1.0, 2.0, 3.0, 4.0});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->n, 4);
  EXPECT_DOUBLE_EQ(s->mean, 2.5);
  // sample variance: (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
  ASSERT_TRUE(s->std);
  EXPECT_NEAR(*s->std, std::sqrt(5.0 / 3.0), 1e-12);
  const double half = 3.1824 * std::sqrt(5.0 / 3.0) / 2.0;  // t_{0.975,3} * std / sqrt(4)
  EXPECT_NEAR(*s->ci_low, 2.5 - half, 1e-12);
  EXPECT_NEAR(*s->ci_high, 2.5 + half, 1e-12);
  EXPECT_NEAR(*s->ci_low, 0.4457695, 1e-6);
}

TEST(ReportPopulationStats, TwoValuesByHand) {
  const auto s = population_stats({0.5, 0.7});
  ASSERT_TRUE(s);
  EXPECT_NEAR(s->mean, 0.6, 1e-12);
  EXPECT_NEAR(*s->std, std::sqrt(0.02), 1e-12);
  // half width = 12.7062 * 0.141421 / 1.414214 = 1.27062
  EXPECT_NEAR(*s->ci_low, 0.6 - 1.27062, 1e-9);
  EXPECT_NEAR(*s->ci_high, 0.6 + 1.27062, 1e-9);
}

TEST(ReportPopulationStats, OneValueHasNoSpread) {
  const auto s = population_stats({0.7});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->n, 1);
  EXPECT_DOUBLE_EQ(s->mean, 0.7);
  EXPECT_FALSE(s->std);
  EXPECT_FALSE(s->ci_low);
  EXPECT_FALSE(s->ci_high);
}

TEST(ReportPopulationStats, EqualValuesHaveZeroWidth) {
  const auto s = population_stats({0.3, 0.3, 0.3});
  EXPECT_DOUBLE_EQ(*s->std, 0.0);
  EXPECT_DOUBLE_EQ(*s->ci_low, 0.3);
  EXPECT_DOUBLE_EQ(*s->ci_high, 0.3);
}

TEST(ReportPopulationStats, SkipsUndefinedValues) {
  const auto s = population_stats({std::nullopt, 1.0, std::nullopt, 3.0, std::nan("")});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->n, 2);
  EXPECT_DOUBLE_EQ(s->mean, 2.0);
  EXPECT_FALSE(population_stats({}));
  EXPECT_FALSE(population_stats({std::nullopt}));
}

}  // namespace
}  // namespace moedil::report
