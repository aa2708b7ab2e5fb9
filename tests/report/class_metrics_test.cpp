#include "moedil/report/class_metrics.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil::report {
namespace {

// truth rows, prediction columns; class 2 has one sample and is never predicted.
const Confusion kNeverPredicted = {{5, 0, 0}, {2, 3, 0}, {1, 0, 0}};

TEST(ReportClassMetrics, HandMatrix) {
  const auto m = class_metrics(kNeverPredicted);
  ASSERT_EQ(m.size(), 3u);
  // class 0: TP 5, support 5, predicted 8
  EXPECT_EQ(m[0].support, 5);
  EXPECT_EQ(m[0].predicted, 8);
  EXPECT_DOUBLE_EQ(*m[0].precision, 5.0 / 8.0);
  EXPECT_DOUBLE_EQ(*m[0].recall, 1.0);
  EXPECT_DOUBLE_EQ(*m[0].f1, 2 * (5.0 / 8.0) * 1.0 / (5.0 / 8.0 + 1.0));  // 10/13
  // class 1: TP 3, support 5, predicted 3
  EXPECT_DOUBLE_EQ(*m[1].precision, 1.0);
  EXPECT_DOUBLE_EQ(*m[1].recall, 0.6);
  EXPECT_DOUBLE_EQ(*m[1].f1, 0.75);
}

TEST(ReportClassMetrics, ClassNeverPredicted) {
  const auto m = class_metrics(kNeverPredicted);
  EXPECT_EQ(m[2].support, 1);
  EXPECT_EQ(m[2].predicted, 0);
  EXPECT_FALSE(m[2].precision) << "precision of a class never predicted is undefined";
  EXPECT_DOUBLE_EQ(*m[2].recall, 0.0);
  EXPECT_DOUBLE_EQ(*m[2].f1, 0.0);
  EXPECT_NEAR(*balanced_accuracy(kNeverPredicted), (1.0 + 0.6 + 0.0) / 3.0, 1e-12);
  EXPECT_NEAR(*macro_f1(kNeverPredicted), (10.0 / 13.0 + 0.75 + 0.0) / 3.0, 1e-12);
}

TEST(ReportClassMetrics, ClassAbsentFromTruthAndPredictions) {
  const Confusion c = {{2, 0}, {0, 0}};
  const auto m = class_metrics(c);
  EXPECT_FALSE(m[1].precision);
  EXPECT_FALSE(m[1].recall);
  EXPECT_FALSE(m[1].f1);
  EXPECT_DOUBLE_EQ(*balanced_accuracy(c), 1.0) << "classes without samples are excluded";
  EXPECT_DOUBLE_EQ(*macro_f1(c), 1.0);
}

TEST(ReportClassMetrics, ClassPredictedButAbsent) {
  const Confusion c = {{1, 1}, {0, 0}};  // class 1 predicted once, never true
  const auto m = class_metrics(c);
  EXPECT_DOUBLE_EQ(*m[1].precision, 0.0);
  EXPECT_FALSE(m[1].recall);
  EXPECT_DOUBLE_EQ(*m[1].f1, 0.0);
  EXPECT_DOUBLE_EQ(*balanced_accuracy(c), 0.5);
}

TEST(ReportClassMetrics, BalancedAccuracyDiffersFromAccuracyOnImbalance) {
  const Confusion c = {{90, 0}, {10, 0}};  // accuracy 0.9, balanced 0.5
  EXPECT_DOUBLE_EQ(*balanced_accuracy(c), 0.5);
}

TEST(ReportClassMetrics, EmptyAndInvalid) {
  EXPECT_TRUE(class_metrics({}).empty());
  EXPECT_FALSE(balanced_accuracy({}));
  EXPECT_FALSE(balanced_accuracy({{0, 0}, {0, 0}}));
  EXPECT_THROW(class_metrics({{1, 2}, {3}}), DataError);
  EXPECT_THROW(class_metrics({{1, -2}, {3, 4}}), DataError);
}

}  // namespace
}  // namespace moedil::report
