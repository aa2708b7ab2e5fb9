#include "moedil/partition/domain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>
#include <vector>

#include "moedil/common/random.h"

namespace moedil::partition {
namespace {

std::vector<int64_t> range(int64_t first, int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

/// train and test are disjoint and together hold exactly `all`.
void expect_partition_of(const std::vector<int64_t>& train, const std::vector<int64_t>& test,
                         std::vector<int64_t> all) {
  std::vector<int64_t> both = train;
  both.insert(both.end(), test.begin(), test.end());
  std::sort(both.begin(), both.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(both, all);
  const std::set<int64_t> train_set(train.begin(), train.end());
  for (int64_t t : test) EXPECT_EQ(train_set.count(t), 0u) << t << " in train and test";
}

TEST(SplitTrainTestTest, SizesFollowTrainFrac) {
  const auto [train, test] = split_train_test(range(100, 10), 0.8, 1);
  EXPECT_EQ(train.size(), 8u);
  EXPECT_EQ(test.size(), 2u);
  expect_partition_of(train, test, range(100, 10));
}

TEST(SplitTrainTestTest, SizesRoundToNearest) {
  // 0.75 * 10 = 7.5 rounds to 8; 0.74 * 10 = 7.4 rounds to 7; 0.5 * 5 = 2.5 rounds to 3.
  EXPECT_EQ(split_train_test(range(0, 10), 0.75, 1).first.size(), 8u);
  EXPECT_EQ(split_train_test(range(0, 10), 0.74, 1).first.size(), 7u);
  EXPECT_EQ(split_train_test(range(0, 5), 0.5, 1).first.size(), 3u);
  EXPECT_EQ(split_train_test(range(0, 7), 0.3, 1).first.size(), 2u);  // 2.1
}

TEST(SplitTrainTestTest, KeepsTheGivenValues) {
  const std::vector<int64_t> values{42, 7, 1000, 3, 99, 12};
  const auto [train, test] = split_train_test(values, 0.5, 3);
  EXPECT_EQ(train.size(), 3u);
  expect_partition_of(train, test, values);
  // The order is values shuffled by random_permutation(6, 3), train first.
  std::vector<int64_t> shuffled;
  for (int64_t p : random_permutation(6, 3)) shuffled.push_back(values[static_cast<std::size_t>(p)]);
  EXPECT_EQ(train, std::vector<int64_t>(shuffled.begin(), shuffled.begin() + 3));
  EXPECT_EQ(test, std::vector<int64_t>(shuffled.begin() + 3, shuffled.end()));
}

TEST(SplitTrainTestTest, TwoSamplesAlwaysOneEachSide) {
  for (double frac : {0.99, 0.01, 0.5, 0.8}) {
    const auto [train, test] = split_train_test({5, 6}, frac, 0);
    EXPECT_EQ(train.size(), 1u) << frac;
    EXPECT_EQ(test.size(), 1u) << frac;
    expect_partition_of(train, test, {5, 6});
  }
}

TEST(SplitTrainTestTest, AtLeastOneEachSideForLargerN) {
  auto [train, test] = split_train_test(range(0, 10), 0.99, 0);  // round(9.9) = 10 -> 9
  EXPECT_EQ(train.size(), 9u);
  EXPECT_EQ(test.size(), 1u);
  std::tie(train, test) = split_train_test(range(0, 10), 0.01, 0);  // round(0.1) = 0 -> 1
  EXPECT_EQ(train.size(), 1u);
  EXPECT_EQ(test.size(), 9u);
}

TEST(SplitTrainTestTest, EmptyInput) {
  const auto [train, test] = split_train_test({}, 0.8, 0);
  EXPECT_TRUE(train.empty());
  EXPECT_TRUE(test.empty());
}

TEST(SplitTrainTestTest, DeterministicPerSeed) {
  EXPECT_EQ(split_train_test(range(0, 20), 0.8, 7), split_train_test(range(0, 20), 0.8, 7));
  const auto a = split_train_test(range(0, 20), 0.8, 7);
  const auto b = split_train_test(range(0, 20), 0.8, 8);
  EXPECT_NE(std::set<int64_t>(a.second.begin(), a.second.end()),
            std::set<int64_t>(b.second.begin(), b.second.end()));
}

}  // namespace
}  // namespace moedil::partition
