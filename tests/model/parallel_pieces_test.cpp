#include "moedil/model/parallel_pieces.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "thread_count.h"

namespace moedil::model {
namespace {

using Threads = testing::ThreadCount;

TEST(ParallelPieces, EveryIndexOnceInPiecesOfTheGivenSize) {
  const Threads threads(2);
  for (const int64_t piece : {1, 3, 7, 100}) {
    std::vector<int> seen(23, 0);
    std::mutex m;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    parallel_pieces(23, piece, [&](int64_t begin, int64_t end) {
      const std::lock_guard<std::mutex> lock(m);
      ranges.emplace_back(begin, end);
      for (int64_t i = begin; i < end; ++i) ++seen[static_cast<std::size_t>(i)];
    });
    for (int count : seen) EXPECT_EQ(count, 1) << "piece " << piece;
    for (const auto& [begin, end] : ranges) {
      EXPECT_EQ(begin % piece, 0);
      EXPECT_EQ(end, std::min<int64_t>(23, begin + piece));
    }
  }
  int calls = 0;
  parallel_pieces(0, 4, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

// The threads take pieces as they finish: a thread held up by one slow piece does not hold
// the others, which take the remaining pieces (a fixed share per thread would give the slow
// thread half of them).
TEST(ParallelPieces, ThreadsThatRunTakeTheRemainingPieces) {
  const Threads threads(2);
  std::mutex m;
  std::set<std::thread::id> ids;
  std::thread::id slow_thread;
  std::vector<std::thread::id> by_piece(20);
  parallel_pieces(20, 1, [&](int64_t begin, int64_t) {
    if (begin == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const std::lock_guard<std::mutex> lock(m);
    by_piece[static_cast<std::size_t>(begin)] = std::this_thread::get_id();
    ids.insert(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 2u) << "fails where moedil is compiled without OpenMP";
  int on_slow = 0;
  for (const auto& id : by_piece) on_slow += id == by_piece[0] ? 1 : 0;
  EXPECT_EQ(on_slow, 1) << "the thread held up by piece 0 took no other piece";
}

TEST(ParallelPieces, InOrderOnTheCallerWithOneThreadOrInsideARegion) {
  std::vector<int64_t> order;
  {
    const Threads threads(1);
    parallel_pieces(5, 2, [&](int64_t begin, int64_t) { order.push_back(begin); });
  }
  EXPECT_EQ(order, (std::vector<int64_t>{0, 2, 4}));
  const Threads threads(2);
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t) {
    if (begin != 0) return;
    const std::thread::id outer = std::this_thread::get_id();
    std::vector<int64_t> inner;
    std::set<std::thread::id> ids;
    parallel_pieces(6, 1, [&](int64_t b, int64_t) {
      inner.push_back(b);
      ids.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(inner, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(ids, (std::set<std::thread::id>{outer}));
  });
}

TEST(ParallelPieces, APiecesExceptionReachesTheCaller) {
  const Threads threads(2);
  EXPECT_THROW(parallel_pieces(8, 1,
                               [](int64_t begin, int64_t) {
                                 if (begin == 5) throw std::runtime_error("piece 5");
                               }),
               std::runtime_error);
}

}  // namespace
}  // namespace moedil::model
