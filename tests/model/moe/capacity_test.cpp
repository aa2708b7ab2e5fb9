#include "moedil/model/moe/capacity.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <cstdint>
#include <vector>

namespace moedil::model::moe {
namespace {

std::vector<int64_t> longs(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

std::vector<double> doubles(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

TEST(MoeCapacityTest, CapacityIsCeilOfFactorTimesRowsTimesKOverExperts) {
  EXPECT_EQ(expert_capacity(1.0, 5, 1, 2), 3);    // ceil(2.5)
  EXPECT_EQ(expert_capacity(0.5, 5, 1, 2), 2);    // ceil(1.25)
  EXPECT_EQ(expert_capacity(1.25, 8, 1, 2), 5);   // exactly 5
  EXPECT_EQ(expert_capacity(1.0, 6, 2, 4), 3);    // 12 assignments over 4 experts
  EXPECT_EQ(expert_capacity(0.01, 3, 1, 4), 1);   // never 0 for a positive factor
  EXPECT_EQ(expert_capacity(0.0, 5, 1, 2), 0);    // unlimited
}

TEST(MoeCapacityTest, TokenChoiceDropsOverflowOnAHandExample) {
  // R = 5, E = 2, k = 1; four rows choose expert 0, capacity ceil(1.0 * 5 / 2) = 3: expert 0
  // keeps rows 0, 1, 3 (earlier rows first) and drops row 4; expert 1 keeps row 2.
  const at::Tensor idx = at::tensor({0, 0, 1, 0, 0}, at::kLong).reshape({5, 1});
  const at::Tensor gates = at::tensor({0.9, 0.8, 0.7, 0.6, 0.5}, at::kDouble).reshape({5, 1});
  const Assignments a = token_choice(idx, gates, 2, expert_capacity(1.0, 5, 1, 2));
  EXPECT_EQ(longs(a.rows), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(longs(a.experts), (std::vector<int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(doubles(a.gates), (std::vector<double>{0.9, 0.8, 0.7, 0.6}));
  EXPECT_EQ(count_dropped_rows(a, 5), 1);  // dropped fraction 1/5

  // Unlimited capacity keeps everything in row-major order.
  const Assignments all = token_choice(idx, gates, 2, 0);
  EXPECT_EQ(longs(all.rows), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(count_dropped_rows(all, 5), 0);
}

TEST(MoeCapacityTest, TokenChoiceGivesFirstChoicesPriorityOverSecondChoices) {
  // R = 3, E = 3, k = 2, capacity 1. Queue order: slot 0 of rows 0..2, then slot 1.
  // Expert 0: (r0, slot 0) kept, (r2, slot 0) and (r1, slot 1) dropped.
  // Expert 1: (r1, slot 0) kept, (r0, slot 1) dropped. Expert 2: (r2, slot 1) kept.
  const at::Tensor idx = at::tensor({0, 1, 1, 0, 0, 2}, at::kLong).reshape({3, 2});
  const at::Tensor gates =
      at::tensor({0.6, 0.4, 0.7, 0.3, 0.55, 0.45}, at::kDouble).reshape({3, 2});
  const Assignments a = token_choice(idx, gates, 3, 1);
  EXPECT_EQ(longs(a.rows), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(longs(a.experts), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(doubles(a.gates), (std::vector<double>{0.6, 0.7, 0.45}));  // not renormalised
  EXPECT_EQ(count_dropped_rows(a, 3), 0);
  // Capacity 2 drops only (r1, slot 1) to expert 0, which is third in expert 0's queue.
  const Assignments b = token_choice(idx, gates, 3, 2);
  EXPECT_EQ(longs(b.rows), (std::vector<int64_t>{0, 0, 1, 2, 2}));
  EXPECT_EQ(longs(b.experts), (std::vector<int64_t>{0, 1, 1, 0, 2}));
}

TEST(MoeCapacityTest, ExpertChoiceTakesEachExpertsTopRowsOnAHandExample) {
  const at::Tensor probs =
      at::tensor({0.9, 0.1, 0.6, 0.4, 0.3, 0.7, 0.2, 0.8}, at::kDouble).reshape({4, 2});
  // C = 1: expert 0 takes row 0 (0.9), expert 1 row 3 (0.8); rows 1 and 2 are dropped.
  const Assignments one = expert_choice(probs, 1);
  EXPECT_EQ(longs(one.rows), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(longs(one.experts), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(doubles(one.gates), (std::vector<double>{0.9, 0.8}));
  EXPECT_EQ(count_dropped_rows(one, 4), 2);
  // C = 2: expert 0 rows 0, 1; expert 1 rows 3, 2; nothing dropped.
  const Assignments two = expert_choice(probs, 2);
  EXPECT_EQ(longs(two.rows), (std::vector<int64_t>{0, 1, 3, 2}));
  EXPECT_EQ(longs(two.experts), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(count_dropped_rows(two, 4), 0);
  // An unavailable expert takes nothing.
  const Assignments masked = expert_choice(probs, 2, at::tensor({0, 1}, at::kLong).to(at::kBool));
  EXPECT_EQ(longs(masked.rows), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(longs(masked.experts), (std::vector<int64_t>{1, 1}));
}

TEST(MoeCapacityTest, ExpertChoiceGivesEveryExpertExactlyCRows) {
  at::manual_seed(3);
  for (int64_t c : {1, 3, 5}) {
    SCOPED_TRACE(c);
    const at::Tensor probs = at::softmax(at::randn({10, 4}) * 3.0, 1);
    const Assignments a = expert_choice(probs, c);
    EXPECT_TRUE(at::equal(at::bincount(a.experts, {}, 4), at::full({4}, c, at::kLong)));
    for (int64_t e = 0; e < 4; ++e) {
      // Its rows are distinct and are the c rows with the highest probability for e.
      const at::Tensor mine = a.rows.index_select(0, a.experts.eq(e).nonzero().squeeze(1));
      EXPECT_EQ(std::get<0>(at::_unique(mine)).numel(), c);
      const double lowest_taken = probs.select(1, e).index_select(0, mine).min().item<double>();
      at::Tensor others = at::ones({10}, at::kBool);
      others.index_fill_(0, mine, false);
      if (others.any().item<bool>()) {
        EXPECT_GE(lowest_taken, probs.select(1, e).masked_select(others).max().item<double>());
      }
    }
  }
  // More capacity than rows: each expert takes every row once.
  const Assignments a = expert_choice(at::full({3, 2}, 0.5), 7);
  EXPECT_TRUE(at::equal(at::bincount(a.experts, {}, 2), at::full({2}, 3, at::kLong)));
}

}  // namespace
}  // namespace moedil::model::moe
