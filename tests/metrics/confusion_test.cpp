#include "moedil/metrics/confusion.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::metrics {
namespace {

constexpr double kTol = 1e-12;

TEST(ConfusionMatrixTest, NewMatrixIsEmpty) {
  ConfusionMatrix m(3);
  EXPECT_EQ(m.num_classes(), 3);
  EXPECT_EQ(m.total(), 0);
  for (int t = 0; t < 3; ++t) {
    for (int p = 0; p < 3; ++p) EXPECT_EQ(m.at(t, p), 0);
  }
  // No samples: accuracy and every recall are defined as 0 (never NaN).
  EXPECT_NEAR(m.accuracy(), 0.0, kTol);
  for (double r : m.per_class_recall()) EXPECT_NEAR(r, 0.0, kTol);
}

TEST(ConfusionMatrixTest, ConstructorRejectsNonPositiveClassCount) {
  EXPECT_THROW(ConfusionMatrix(0), moedil::Error);
  EXPECT_THROW(ConfusionMatrix(-2), moedil::Error);
}

TEST(ConfusionMatrixTest, AddAccuracyAndRecall) {
  // 3 classes, samples (truth, pred):
  //   (0,0) (0,0) (0,1)        -> row 0 = [2 1 0], recall 2/3
  //   (1,1) (1,2) (1,2) (1,1)  -> row 1 = [0 2 2], recall 2/4 = 0.5
  //   (2,2)                    -> row 2 = [0 0 1], recall 1/1 = 1
  // total = 8, trace = 2 + 2 + 1 = 5, accuracy = 5/8 = 0.625
  ConfusionMatrix m(3);
  m.add(0, 0);
  m.add(0, 0);
  m.add(0, 1);
  m.add(1, 1);
  m.add(1, 2);
  m.add(1, 2);
  m.add(1, 1);
  m.add(2, 2);
  EXPECT_EQ(m.total(), 8);
  EXPECT_EQ(m.at(0, 0), 2);
  EXPECT_EQ(m.at(0, 1), 1);
  EXPECT_EQ(m.at(1, 2), 2);
  EXPECT_EQ(m.at(2, 0), 0);
  EXPECT_NEAR(m.accuracy(), 0.625, kTol);
  const std::vector<double> recall = m.per_class_recall();
  ASSERT_EQ(recall.size(), 3u);
  EXPECT_NEAR(recall[0], 2.0 / 3.0, kTol);
  EXPECT_NEAR(recall[1], 0.5, kTol);
  EXPECT_NEAR(recall[2], 1.0, kTol);
  const std::vector<std::vector<int64_t>> expected = {{2, 1, 0}, {0, 2, 2}, {0, 0, 1}};
  EXPECT_EQ(m.rows(), expected);
}

TEST(ConfusionMatrixTest, RecallIsZeroForClassWithoutSamples) {
  // Only class 0 and 2 have samples; class 1's row is empty -> recall 0, not NaN.
  // rows: [1 0 1], [0 0 0], [0 1 0]; recall = [1/2, 0, 0/1]; accuracy = 1/4.
  ConfusionMatrix m(3);
  m.add(0, 0);
  m.add(0, 2);
  m.add(2, 1);
  m.add(2, 1);
  m.add(2, 1);  // row 2 = [0 3 0] -> recall 0/3 = 0
  const std::vector<double> recall = m.per_class_recall();
  EXPECT_NEAR(recall[0], 0.5, kTol);
  EXPECT_NEAR(recall[1], 0.0, kTol);
  EXPECT_NEAR(recall[2], 0.0, kTol);
  // trace = 1, total = 5 -> 0.2
  EXPECT_NEAR(m.accuracy(), 0.2, kTol);
}

TEST(ConfusionMatrixTest, AddRejectsOutOfRangeClasses) {
  ConfusionMatrix m(2);
  EXPECT_THROW(m.add(2, 0), moedil::Error);
  EXPECT_THROW(m.add(0, 2), moedil::Error);
  EXPECT_THROW(m.add(-1, 0), moedil::Error);
  EXPECT_THROW(m.add(0, -1), moedil::Error);
  EXPECT_THROW(m.at(2, 0), moedil::Error);
  EXPECT_THROW(m.at(0, -1), moedil::Error);
  EXPECT_EQ(m.total(), 0);  // failed adds leave the matrix untouched
}

TEST(ConfusionMatrixTest, FromCountsIsRowMajorTruthThenPred) {
  // counts[t*C + p], C = 2: [[5, 1], [3, 7]]
  // total = 16, trace = 12, accuracy = 0.75; recall = [5/6, 7/10]
  ConfusionMatrix m = ConfusionMatrix::from_counts(2, {5, 1, 3, 7});
  EXPECT_EQ(m.num_classes(), 2);
  EXPECT_EQ(m.at(0, 1), 1);  // truth 0 predicted 1
  EXPECT_EQ(m.at(1, 0), 3);  // truth 1 predicted 0
  EXPECT_EQ(m.total(), 16);
  EXPECT_NEAR(m.accuracy(), 0.75, kTol);
  const std::vector<double> recall = m.per_class_recall();
  EXPECT_NEAR(recall[0], 5.0 / 6.0, kTol);
  EXPECT_NEAR(recall[1], 0.7, kTol);
  // add() keeps working on a matrix built from counts: trace 13, total 17.
  m.add(1, 1);
  EXPECT_EQ(m.total(), 17);
  EXPECT_NEAR(m.accuracy(), 13.0 / 17.0, kTol);
}

TEST(ConfusionMatrixTest, FromCountsRejectsBadInput) {
  EXPECT_THROW(ConfusionMatrix::from_counts(2, {1, 2, 3}), moedil::Error);
  EXPECT_THROW(ConfusionMatrix::from_counts(2, {1, 2, 3, 4, 5}), moedil::Error);
  EXPECT_THROW(ConfusionMatrix::from_counts(0, {}), moedil::Error);
  EXPECT_THROW(ConfusionMatrix::from_counts(2, {1, -1, 0, 0}), moedil::Error);
}

TEST(ConfusionMatrixTest, MergeAddsCounts) {
  // a = [[2,0],[1,1]] (total 4), b = [[1,1],[0,3]] (total 5)
  // a+b = [[3,1],[1,4]], total 9, trace 7 -> accuracy 7/9; recall [3/4, 4/5]
  ConfusionMatrix a = ConfusionMatrix::from_counts(2, {2, 0, 1, 1});
  ConfusionMatrix b = ConfusionMatrix::from_counts(2, {1, 1, 0, 3});
  a.merge(b);
  const std::vector<std::vector<int64_t>> expected = {{3, 1}, {1, 4}};
  EXPECT_EQ(a.rows(), expected);
  EXPECT_EQ(a.total(), 9);
  EXPECT_NEAR(a.accuracy(), 7.0 / 9.0, kTol);
  const std::vector<double> recall = a.per_class_recall();
  EXPECT_NEAR(recall[0], 0.75, kTol);
  EXPECT_NEAR(recall[1], 0.8, kTol);
  // b is unchanged.
  EXPECT_EQ(b.total(), 5);
}

TEST(ConfusionMatrixTest, MergeRejectsSizeMismatch) {
  ConfusionMatrix a(2);
  ConfusionMatrix b(3);
  EXPECT_THROW(a.merge(b), moedil::Error);
}

}  // namespace
}  // namespace moedil::metrics
