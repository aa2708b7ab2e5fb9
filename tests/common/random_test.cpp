#include "moedil/common/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace moedil {
namespace {

bool is_permutation_of_iota(const std::vector<int64_t>& order, int64_t n) {
  if (static_cast<int64_t>(order.size()) != n) return false;
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < n; ++i) {
    if (sorted[static_cast<std::size_t>(i)] != i) return false;
  }
  return true;
}

/// Fisher-Yates over mt19937_64(seed) written out by hand (the modulo-bias rejection in the
/// library only triggers for draws in the top 2^64 mod bound values, never for these seeds).
std::vector<int64_t> reference_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::mt19937_64 engine(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(engine() % (static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

TEST(RandomPermutationTest, IsAPermutation) {
  for (int64_t n : {2, 3, 10, 100, 1000}) {
    const std::vector<int64_t> order = random_permutation(n, 42);
    EXPECT_TRUE(is_permutation_of_iota(order, n)) << "n = " << n;
  }
}

TEST(RandomPermutationTest, EmptyAndSingleton) {
  EXPECT_TRUE(random_permutation(0, 7).empty());
  EXPECT_EQ(random_permutation(1, 7), (std::vector<int64_t>{0}));
  EXPECT_EQ(random_permutation(1, 123456), (std::vector<int64_t>{0}));
}

TEST(RandomPermutationTest, SameSeedSameOrder) {
  EXPECT_EQ(random_permutation(50, 3), random_permutation(50, 3));
  EXPECT_EQ(random_permutation(1000, 0), random_permutation(1000, 0));
}

TEST(RandomPermutationTest, DifferentSeedsDiffer) {
  const std::vector<int64_t> a = random_permutation(50, 1);
  const std::vector<int64_t> b = random_permutation(50, 2);
  const std::vector<int64_t> c = random_permutation(50, 3);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
}

TEST(RandomPermutationTest, ActuallyShuffles) {
  std::vector<int64_t> identity(100);
  std::iota(identity.begin(), identity.end(), int64_t{0});
  EXPECT_NE(random_permutation(100, 0), identity);
  EXPECT_NE(random_permutation(100, 1), identity);
}

TEST(RandomPermutationTest, MatchesFisherYatesOverMt19937_64) {
  // The header promises a portable order: Fisher-Yates driven by std::mt19937_64(seed).
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xdeadbeefull}) {
    for (int64_t n : {2, 3, 7, 64}) {
      EXPECT_EQ(random_permutation(n, seed), reference_permutation(n, seed))
          << "n = " << n << ", seed = " << seed;
    }
  }
  // n = 2, by hand: one draw j = engine() % 2; j == 0 swaps, j == 1 keeps.
  std::mt19937_64 engine(5);
  const bool swapped = engine() % 2 == 0;
  EXPECT_EQ(random_permutation(2, 5),
            swapped ? (std::vector<int64_t>{1, 0}) : (std::vector<int64_t>{0, 1}));
}

TEST(RandomPermutationTest, RoughlyUniformOverSeeds) {
  // All 6 orders of 3 elements appear about equally often over 6000 seeds (expected 1000 each,
  // the bounds are > 6 standard deviations wide).
  std::map<std::vector<int64_t>, int> counts;
  for (uint64_t seed = 0; seed < 6000; ++seed) ++counts[random_permutation(3, seed)];
  EXPECT_EQ(counts.size(), 6u);
  for (const auto& [order, count] : counts) {
    EXPECT_GT(count, 800);
    EXPECT_LT(count, 1200);
  }
}

TEST(MixSeedTest, Deterministic) {
  EXPECT_EQ(mix_seed(0, {}), mix_seed(0, {}));
  EXPECT_EQ(mix_seed(7, {1, 2, 3}), mix_seed(7, {1, 2, 3}));
}

TEST(MixSeedTest, DiffersPerStream) {
  std::set<uint64_t> seen;
  for (uint64_t stream = 0; stream < 100; ++stream) seen.insert(mix_seed(5, {stream}));
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_NE(mix_seed(5, {0}), mix_seed(5, {}));
}

TEST(MixSeedTest, DiffersPerBase) {
  std::set<uint64_t> seen;
  for (uint64_t base = 0; base < 100; ++base) seen.insert(mix_seed(base, {0}));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(MixSeedTest, StreamOrderMatters) {
  EXPECT_NE(mix_seed(0, {1, 2}), mix_seed(0, {2, 1}));
  EXPECT_NE(mix_seed(0, {1, 0}), mix_seed(0, {1}));
}

TEST(MixSeedTest, DerivedStreamsDoNotCollideWithTheBase) {
  // A derived seed should not reproduce the plain base seed (or base + 1), so that a stream
  // seeded with mix_seed(s, {k}) is not the same sequence as one seeded with s itself.
  for (uint64_t base : {0ull, 1ull, 2ull, 42ull}) {
    for (uint64_t stream : {0ull, 1ull, 2ull}) {
      const uint64_t m = mix_seed(base, {stream});
      EXPECT_NE(m, base);
      EXPECT_NE(m, base + 1);
      EXPECT_NE(random_permutation(20, m), random_permutation(20, base));
    }
  }
}

}  // namespace
}  // namespace moedil
