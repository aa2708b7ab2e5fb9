#include "moedil/train/replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::train {

// Readable failure messages (found by gtest through argument-dependent lookup).
void PrintTo(const ReplaySample& s, std::ostream* os) {
  *os << "{domain " << s.domain << ", index " << s.index << ", label " << s.label << "}";
}

namespace {

using Counts = std::map<int64_t, int64_t>;

/// `n` samples of one domain with indices first..first+n-1, all labelled `label`.
std::vector<ReplaySample> block(int64_t domain, int64_t first, int64_t n, int64_t label) {
  std::vector<ReplaySample> out;
  for (int64_t i = 0; i < n; ++i) out.push_back({domain, first + i, label});
  return out;
}

std::vector<ReplaySample> concat(std::vector<ReplaySample> a, const std::vector<ReplaySample>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool less(const ReplaySample& a, const ReplaySample& b) {
  return std::tie(a.domain, a.index, a.label) < std::tie(b.domain, b.index, b.label);
}

/// Every held sample was offered, and none is held twice.
void expect_distinct_subset(const std::vector<ReplaySample>& held,
                            const std::vector<ReplaySample>& offered) {
  for (const ReplaySample& s : held) {
    EXPECT_NE(std::find(offered.begin(), offered.end(), s), offered.end());
  }
  std::vector<ReplaySample> sorted = held;
  std::sort(sorted.begin(), sorted.end(), less);
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
}

/// For `runs` seeds, offers samples 0..n-1 (all class `label`) to a fresh memory of the policy
/// and capacity, and returns how often each index ended up held.
std::vector<int64_t> inclusion_counts(const std::string& policy, int64_t capacity, int64_t n,
                                      int64_t runs) {
  std::vector<int64_t> hits(static_cast<std::size_t>(n), 0);
  const std::vector<ReplaySample> offered = block(0, 0, n, 0);
  for (int64_t seed = 0; seed < runs; ++seed) {
    ReplayMemory memory(policy, capacity, static_cast<uint64_t>(seed));
    memory.observe(offered);
    EXPECT_EQ(memory.size(), capacity);
    expect_distinct_subset(memory.contents(), offered);
    for (const ReplaySample& s : memory.contents()) ++hits[static_cast<std::size_t>(s.index)];
  }
  return hits;
}

/// For seeds 0..runs-1, offers `offered` to a fresh memory and returns, per offered position, the
/// fraction of runs in which that sample ended up held (samples must be distinct).
std::vector<double> keep_frequency(const std::string& policy, int64_t capacity,
                                   const std::vector<ReplaySample>& offered, int64_t runs) {
  std::vector<double> freq(offered.size(), 0.0);
  for (int64_t seed = 0; seed < runs; ++seed) {
    ReplayMemory memory(policy, capacity, static_cast<uint64_t>(seed));
    memory.observe(offered);
    for (std::size_t i = 0; i < offered.size(); ++i) {
      const auto& held = memory.contents();
      if (std::find(held.begin(), held.end(), offered[i]) != held.end()) freq[i] += 1.0;
    }
  }
  for (double& f : freq) f /= static_cast<double>(runs);
  return freq;
}

/// Each sample's inclusion frequency is capacity/n = 0.1 within 0.03 (4.5 standard deviations of
/// a Binomial(2000, 0.1) frequency), and the Pearson statistic over all 100 samples,
/// sum (hits - 200)^2 / 200, stays below 150 (about 99 degrees of freedom, scaled by 0.9 for
/// binomial rather than Poisson counts; mean ~89, 150 is far in the tail). Fixed seeds, so the
/// outcome is deterministic; a policy that favours early or late samples fails by far.
void expect_uniform_inclusion(const std::string& policy) {
  constexpr int64_t kCapacity = 10;
  constexpr int64_t kOffered = 100;
  constexpr int64_t kRuns = 2000;
  const std::vector<int64_t> hits = inclusion_counts(policy, kCapacity, kOffered, kRuns);
  const double expected = static_cast<double>(kRuns * kCapacity) / kOffered;  // 200
  double chi_square = 0.0;
  for (int64_t i = 0; i < kOffered; ++i) {
    const auto h = static_cast<double>(hits[static_cast<std::size_t>(i)]);
    EXPECT_NEAR(h / kRuns, 0.1, 0.03) << policy << ": sample " << i;
    chi_square += (h - expected) * (h - expected) / expected;
  }
  EXPECT_LT(chi_square, 150.0) << policy;
}

TEST(ReplayMemory, RestoredStateContinuesExactlyLikeTheOriginal) {
  for (const std::string policy : {"fifo", "reservoir", "class_balanced"}) {
    SCOPED_TRACE(policy);
    ReplayMemory original(policy, 10, 7);
    // Unequal classes, more samples than capacity, so every policy has made random choices.
    original.observe(concat(block(0, 0, 17, 0), block(0, 100, 5, 1)));
    ReplayMemory restored(policy, 10, 999);  // another seed: the state must carry the generator
    restored.restore_state(original.save_state());
    EXPECT_EQ(restored.contents(), original.contents());
    EXPECT_EQ(restored.seen(), original.seen());
    const auto more = concat(block(1, 0, 23, 2), block(1, 50, 9, 0));
    original.observe(more);
    restored.observe(more);
    EXPECT_EQ(restored.contents(), original.contents());
    EXPECT_EQ(restored.count_by_class(), original.count_by_class());
    EXPECT_EQ(restored.draw(6, 3), original.draw(6, 3));
  }
}

TEST(ReplayMemory, RestoringAnotherPolicyOrCapacityOrGarbageIsADataError) {
  ReplayMemory fifo("fifo", 10, 1);
  ReplayMemory reservoir("reservoir", 10, 1);
  ReplayMemory small("fifo", 5, 1);
  EXPECT_THROW(reservoir.restore_state(fifo.save_state()), DataError);
  EXPECT_THROW(small.restore_state(fifo.save_state()), DataError);
  EXPECT_THROW(fifo.restore_state(nlohmann::json{{"policy", "fifo"}}), DataError);
}

TEST(ReplayMemory, PolicyNamesAreTheThreeConfigNames) {
  EXPECT_EQ(replay_policy_registry().names(),
            (std::vector<std::string>{"fifo", "reservoir", "class_balanced"}));
  for (const std::string& name : replay_policy_registry().names()) {
    ReplayMemory memory(name, 3, 0);
    EXPECT_EQ(memory.policy(), name);
    EXPECT_EQ(memory.capacity(), 3);
    EXPECT_EQ(memory.size(), 0);
    EXPECT_EQ(memory.seen(), 0);
  }
}

TEST(ReplayMemory, SampleEqualityComparesAllThreeFields) {
  const ReplaySample a{1, 2, 3};
  EXPECT_TRUE(a == (ReplaySample{1, 2, 3}));
  EXPECT_FALSE(a == (ReplaySample{9, 2, 3}));
  EXPECT_FALSE(a == (ReplaySample{1, 9, 3}));
  EXPECT_FALSE(a == (ReplaySample{1, 2, 9}));
}

TEST(ReplayMemory, UnknownPolicyIsAConfigErrorListingTheValidNames) {
  try {
    ReplayMemory memory("reservior", 10, 0);
    FAIL() << "no error for an unknown policy";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'reservior'"), std::string::npos) << message;
    EXPECT_NE(message.find("did you mean 'reservoir'"), std::string::npos) << message;
    EXPECT_NE(message.find("fifo, reservoir, class_balanced"), std::string::npos) << message;
  }
  EXPECT_THROW(ReplayMemory("", 10, 0), ConfigError);
  EXPECT_THROW(ReplayMemory("FIFO", 10, 0), ConfigError);
}

TEST(ReplayMemory, NegativeCapacityIsAConfigError) {
  for (const std::string& name : replay_policy_registry().names()) {
    try {
      ReplayMemory memory(name, -1, 0);
      FAIL() << "no error for capacity -1 with " << name;
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("capacity"), std::string::npos) << message;
      EXPECT_NE(message.find("-1"), std::string::npos) << message;
    }
  }
}

TEST(ReplayMemory, CapacityZeroKeepsNothing) {
  for (const std::string& name : replay_policy_registry().names()) {
    ReplayMemory memory(name, 0, 7);
    memory.observe(block(0, 0, 20, 1));
    memory.observe(block(1, 0, 5, 2));
    EXPECT_EQ(memory.size(), 0) << name;
    EXPECT_TRUE(memory.contents().empty()) << name;
    EXPECT_EQ(memory.seen(), 25) << name;
    EXPECT_TRUE(memory.draw(10, 0).empty()) << name;
    EXPECT_TRUE(memory.count_by_class().empty()) << name;
  }
}

TEST(ReplayMemory, EveryPolicyKeepsEverythingUntilFull) {
  const std::vector<ReplaySample> offered = concat(block(0, 0, 4, 0), block(1, 0, 3, 1));
  for (const std::string& name : replay_policy_registry().names()) {
    ReplayMemory memory(name, 10, 3);
    memory.observe(offered);
    EXPECT_EQ(memory.contents(), offered) << name;
    EXPECT_EQ(memory.seen(), 7) << name;
  }
}

TEST(ReplayMemory, FifoKeepsExactlyTheLastCapacityInOrder) {
  ReplayMemory memory("fifo", 5, 0);
  memory.observe(block(0, 0, 3, 0));
  EXPECT_EQ(memory.contents(), block(0, 0, 3, 0));
  memory.observe(block(0, 3, 4, 0));  // 0..6 offered
  EXPECT_EQ(memory.contents(), block(0, 2, 5, 0));
  memory.observe({});
  EXPECT_EQ(memory.contents(), block(0, 2, 5, 0));
  memory.observe(block(1, 0, 12, 1));  // one call longer than capacity
  EXPECT_EQ(memory.contents(), block(1, 7, 5, 1));
  memory.observe(block(2, 0, 2, 2));
  EXPECT_EQ(memory.contents(), concat(block(1, 9, 3, 1), block(2, 0, 2, 2)));
  EXPECT_EQ(memory.size(), 5);
  EXPECT_EQ(memory.seen(), 21);
}

TEST(ReplayMemory, ReservoirKeepsEveryOfferedSampleWithEqualProbability) {
  expect_uniform_inclusion("reservoir");
}

// Small cases where an off-by-one in algorithm R (capacity / (n - 1) or capacity / (n + 1)) moves
// a probability by 0.1 or more: capacity c, n offered -> each kept with probability c / n.
// 4000 fixed seeds; +-0.04 is at least 5 standard deviations.
TEST(ReplayMemory, ReservoirSmallCasesKeepEachSampleWithProbabilityCapacityOverSeen) {
  for (const auto& [capacity, n] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 3}, {3, 5}}) {
    const std::vector<double> freq = keep_frequency("reservoir", capacity, block(0, 0, n, 0), 4000);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(freq[static_cast<std::size_t>(i)],
                  static_cast<double>(capacity) / static_cast<double>(n), 0.04)
          << "capacity " << capacity << ", " << n << " offered, sample " << i;
    }
  }
}

TEST(ReplayMemory, ReservoirSameSeedSameContentsRegardlessOfChunking) {
  const std::vector<ReplaySample> offered = concat(block(0, 0, 60, 0), block(1, 0, 40, 1));
  ReplayMemory once("reservoir", 10, 42);
  once.observe(offered);
  ReplayMemory again("reservoir", 10, 42);
  again.observe(offered);
  EXPECT_EQ(once.contents(), again.contents());

  ReplayMemory chunked("reservoir", 10, 42);
  chunked.observe(block(0, 0, 7, 0));
  chunked.observe(block(0, 7, 53, 0));
  chunked.observe(block(1, 0, 40, 1));
  EXPECT_EQ(chunked.contents(), once.contents());
  EXPECT_EQ(chunked.seen(), 100);

  ReplayMemory other("reservoir", 10, 43);
  other.observe(offered);
  EXPECT_NE(other.contents(), once.contents());
  expect_distinct_subset(once.contents(), offered);
}

TEST(ReplayMemory, DrawingDoesNotDisturbTheMemory) {
  ReplayMemory plain("reservoir", 10, 5);
  ReplayMemory drawn("reservoir", 10, 5);
  plain.observe(block(0, 0, 50, 0));
  drawn.observe(block(0, 0, 50, 0));
  const auto first = drawn.draw(30, 1);
  EXPECT_EQ(drawn.draw(30, 1), first);
  plain.observe(block(0, 50, 150, 0));
  drawn.observe(block(0, 50, 150, 0));
  EXPECT_EQ(plain.contents(), drawn.contents());
}

// Stream: 90 of class 0, then 10 of class 1, then 10 of class 2; capacity 12. By hand:
//  - the first 12 class-0 samples fill memory {0:12}; the other 78 find class 0 the largest and
//    their own, so they only replace class-0 samples (reservoir within class 0): {0:12}.
//  - class-1 samples 1..6 each evict a class-0 sample (class 0 is strictly largest):
//    {0:11,1:1} ... {0:6,1:6}; samples 7..10 find class 1 tied for largest, so they only
//    replace class-1 samples: {0:6,1:6}.
//  - class-2 samples: 1st evicts class 0 (tie 6/6, smallest id) -> {0:5,1:6,2:1}; 2nd evicts
//    class 1 -> {0:5,1:5,2:2}; 3rd evicts class 0 -> {0:4,1:5,2:3}; 4th evicts class 1 ->
//    {0:4,1:4,2:4}; 5..10 find class 2 tied for largest and replace within it: {0:4,1:4,2:4}.
// Counts depend only on the order of labels, not on the seed.
TEST(ReplayMemory, ClassBalancedEvensOutAnImbalancedStream) {
  const std::vector<ReplaySample> zeros = block(0, 0, 90, 0);
  const std::vector<ReplaySample> ones = block(1, 0, 10, 1);
  const std::vector<ReplaySample> twos = block(2, 0, 10, 2);
  const std::vector<ReplaySample> all = concat(concat(zeros, ones), twos);
  for (uint64_t seed : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
    ReplayMemory memory("class_balanced", 12, seed);
    memory.observe(zeros);
    EXPECT_EQ(memory.count_by_class(), (Counts{{0, 12}})) << seed;
    memory.observe(block(1, 0, 6, 1));
    EXPECT_EQ(memory.count_by_class(), (Counts{{0, 6}, {1, 6}})) << seed;
    memory.observe(block(1, 6, 4, 1));
    EXPECT_EQ(memory.count_by_class(), (Counts{{0, 6}, {1, 6}})) << seed;
    memory.observe(block(2, 0, 1, 2));
    EXPECT_EQ(memory.count_by_class(), (Counts{{0, 5}, {1, 6}, {2, 1}})) << seed;
    memory.observe(block(2, 1, 9, 2));
    EXPECT_EQ(memory.count_by_class(), (Counts{{0, 4}, {1, 4}, {2, 4}})) << seed;
    EXPECT_EQ(memory.count_by_domain(), (Counts{{0, 4}, {1, 4}, {2, 4}})) << seed;
    EXPECT_EQ(memory.size(), 12);
    EXPECT_EQ(memory.seen(), 110);
    expect_distinct_subset(memory.contents(), all);

    ReplayMemory at_once("class_balanced", 12, seed);
    at_once.observe(all);
    EXPECT_EQ(at_once.contents(), memory.contents()) << seed;
  }
}

// Labels 0,1,2,0,1,2,... (300 samples), capacity 10. Filling gives {0:4,1:3,2:3}. From then on
// each sample's class is one short of the largest, so it evicts from the largest class and
// becomes the largest itself: after any sample of class L, L holds 4 and the others 3. The last
// sample (index 299) is class 2.
TEST(ReplayMemory, ClassBalancedRotatesAnInterleavedStream) {
  std::vector<ReplaySample> offered;
  for (int64_t i = 0; i < 300; ++i) offered.push_back({0, i, i % 3});
  ReplayMemory memory("class_balanced", 10, 11);
  memory.observe(std::vector<ReplaySample>(offered.begin(), offered.begin() + 10));
  EXPECT_EQ(memory.count_by_class(), (Counts{{0, 4}, {1, 3}, {2, 3}}));
  memory.observe(std::vector<ReplaySample>(offered.begin() + 10, offered.begin() + 11));
  EXPECT_EQ(memory.count_by_class(), (Counts{{0, 3}, {1, 4}, {2, 3}}));
  memory.observe(std::vector<ReplaySample>(offered.begin() + 11, offered.end()));
  EXPECT_EQ(memory.count_by_class(), (Counts{{0, 3}, {1, 3}, {2, 4}}));
  expect_distinct_subset(memory.contents(), offered);
  // The newest sample was just inserted (it evicted from another class), so it is held.
  EXPECT_NE(std::find(memory.contents().begin(), memory.contents().end(), offered.back()),
            memory.contents().end());
}

// With one class, class_balanced is reservoir within that class: the n-th sample is kept with
// probability capacity / n, so every sample ends up held with probability capacity / 100.
TEST(ReplayMemory, ClassBalancedWithinOneClassKeepsEverySampleWithEqualProbability) {
  expect_uniform_inclusion("class_balanced");
}

// Capacity 2; a (class 0), then b, c, d (class 1). a and b fill memory {0:1,1:1}; c and d find
// class 1 tied for largest, so they replace the class-1 sample with probability 1/2 and 1/3
// (count 1 over seen-of-class 2 and 3; seen overall would give 1/3 and 1/4). a is never evicted,
// and b, c, d are each held with probability 1/3. 4000 fixed seeds; +-0.04 is over 5 sd.
TEST(ReplayMemory, ClassBalancedReservoirWithinAClassCountsOnlyThatClass) {
  const std::vector<ReplaySample> offered = {{0, 0, 0}, {0, 1, 1}, {0, 2, 1}, {0, 3, 1}};
  const std::vector<double> freq = keep_frequency("class_balanced", 2, offered, 4000);
  EXPECT_EQ(freq[0], 1.0);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_NEAR(freq[i], 1.0 / 3.0, 0.04) << i;
  const std::vector<double> after_c =
      keep_frequency("class_balanced", 2, {offered[0], offered[1], offered[2]}, 4000);
  EXPECT_NEAR(after_c[2], 0.5, 0.04);
}

// Capacity 4 full of class 0, then one class-1 sample: it evicts a uniformly random class-0
// sample, so each of the four survives with probability 3/4.
TEST(ReplayMemory, ClassBalancedEvictsAUniformlyRandomSampleOfTheLargestClass) {
  const std::vector<ReplaySample> offered = concat(block(0, 0, 4, 0), block(1, 0, 1, 1));
  const std::vector<double> freq = keep_frequency("class_balanced", 4, offered, 4000);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_NEAR(freq[i], 0.75, 0.04) << i;
  EXPECT_EQ(freq[4], 1.0);
}

TEST(ReplayMemory, CountsByDomainAndClass) {
  ReplayMemory memory("fifo", 6, 0);
  memory.observe({{0, 0, 5}, {0, 1, 5}, {1, 0, 5}, {1, 1, 7}, {1, 2, 7}, {3, 0, 9}});
  EXPECT_EQ(memory.count_by_domain(), (Counts{{0, 2}, {1, 3}, {3, 1}}));
  EXPECT_EQ(memory.count_by_class(), (Counts{{5, 3}, {7, 2}, {9, 1}}));
  memory.observe({{4, 0, 7}, {4, 1, 7}});  // evicts the two domain-0 samples
  EXPECT_EQ(memory.count_by_domain(), (Counts{{1, 3}, {3, 1}, {4, 2}}));
  EXPECT_EQ(memory.count_by_class(), (Counts{{5, 1}, {7, 4}, {9, 1}}));
}

TEST(ReplayMemory, DrawIsDeterministicPerSeed) {
  ReplayMemory memory("fifo", 8, 0);
  memory.observe(block(0, 0, 8, 0));
  const std::vector<ReplaySample> a = memory.draw(50, 123);
  EXPECT_EQ(a.size(), 50u);
  EXPECT_EQ(memory.draw(50, 123), a);
  EXPECT_NE(memory.draw(50, 124), a);
  // A longer draw with the same seed starts with the shorter one (one generator, in order).
  const std::vector<ReplaySample> longer = memory.draw(80, 123);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), longer.begin()));
}

TEST(ReplayMemory, DrawIsUniformWithReplacementFromContentsOnly) {
  ReplayMemory memory("fifo", 3, 0);
  memory.observe(block(0, 0, 5, 0));  // holds indices 2, 3, 4
  const std::vector<ReplaySample> draw = memory.draw(3000, 9);
  ASSERT_EQ(draw.size(), 3000u);
  std::map<int64_t, int64_t> hits;
  for (const ReplaySample& s : draw) {
    EXPECT_NE(std::find(memory.contents().begin(), memory.contents().end(), s),
              memory.contents().end())
        << s.index;
    ++hits[s.index];
  }
  // Binomial(3000, 1/3): mean 1000, sd ~26; +-150 is ~6 sd.
  ASSERT_EQ(hits.size(), 3u);
  for (const auto& [index, count] : hits) {
    EXPECT_NEAR(static_cast<double>(count), 1000.0, 150.0) << index;
  }

  // With replacement: a draw of size() items repeats one with probability 1 - 3!/3^3 = 7/9,
  // so over 20 seeds some draw repeats (a draw without replacement never would).
  int64_t with_repeat = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<ReplaySample> small = memory.draw(3, seed);
    ASSERT_EQ(small.size(), 3u);
    std::set<int64_t> distinct;
    for (const ReplaySample& s : small) distinct.insert(s.index);
    if (distinct.size() < 3u) ++with_repeat;
  }
  EXPECT_GT(with_repeat, 0);
}

TEST(ReplayMemory, DrawOfNothingIsEmpty) {
  ReplayMemory empty("reservoir", 5, 0);
  EXPECT_TRUE(empty.draw(10, 0).empty());
  ReplayMemory memory("reservoir", 5, 0);
  memory.observe(block(0, 0, 3, 0));
  EXPECT_TRUE(memory.draw(0, 0).empty());
  EXPECT_TRUE(memory.draw(-4, 0).empty());
  EXPECT_EQ(memory.draw(1, 0).size(), 1u);
}

// The predecessor's replay batch: min(n, size) distinct samples, uniformly.
TEST(ReplayMemory, DrawDistinctIsUniformWithoutReplacement) {
  ReplayMemory memory("fifo", 6, 0);
  memory.observe(block(0, 0, 6, 0));
  EXPECT_TRUE(memory.draw_distinct(0, 1).empty());
  EXPECT_TRUE(memory.draw_distinct(-2, 1).empty());
  EXPECT_TRUE(ReplayMemory("fifo", 6, 0).draw_distinct(4, 1).empty());
  // More asked than held: all of memory, once each.
  std::vector<ReplaySample> all = memory.draw_distinct(10, 3);
  ASSERT_EQ(all.size(), 6u);
  std::sort(all.begin(), all.end(), less);
  EXPECT_EQ(all, block(0, 0, 6, 0));
  // Deterministic per seed; another seed draws differently.
  EXPECT_EQ(memory.draw_distinct(4, 7), memory.draw_distinct(4, 7));
  bool differs = false;
  for (uint64_t seed = 8; seed < 12; ++seed) {
    differs = differs || memory.draw_distinct(4, seed) != memory.draw_distinct(4, 7);
  }
  EXPECT_TRUE(differs);
  // Over 3000 seeds every slot is in a draw of 2 with probability 2/6: 1000 hits (sd ~26), and
  // no draw repeats a sample.
  std::map<int64_t, int64_t> hits;
  for (uint64_t seed = 0; seed < 3000; ++seed) {
    const std::vector<ReplaySample> two = memory.draw_distinct(2, seed);
    ASSERT_EQ(two.size(), 2u);
    ASSERT_FALSE(two[0] == two[1]);
    for (const ReplaySample& s : two) ++hits[s.index];
  }
  ASSERT_EQ(hits.size(), 6u);
  for (const auto& [index, count] : hits) {
    EXPECT_NEAR(static_cast<double>(count), 1000.0, 150.0) << index;
  }
}

}  // namespace
}  // namespace moedil::train
