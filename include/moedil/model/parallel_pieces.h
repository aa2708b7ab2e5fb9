#pragma once
// Work shared over LibTorch's threads piece by piece: each thread takes the next piece of the
// range when it has finished one. at::parallel_for gives each thread a fixed share, so when
// another process holds one of the cores the whole region waits for the thread that is not
// running; here the threads that run take its pieces. Which thread runs a piece must not change
// its result (every caller writes each piece's output on its own), so results do not depend on
// the thread count or on the scheduling.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include <ATen/Parallel.h>

namespace moedil::model {

/// fn(begin, end) for the pieces [0, piece), [piece, 2 piece), ... of [0, count), on up to
/// at::get_num_threads() threads; in order on the calling thread when one thread is set, there
/// is a single piece, or this runs inside a parallel region already. The first exception a
/// piece throws is rethrown here (the other threads finish the pieces they hold and take no
/// more).
template <class F>
void parallel_pieces(int64_t count, int64_t piece, const F& fn) {
  if (count <= 0) return;
  piece = std::max<int64_t>(1, piece);
  const int64_t pieces = (count + piece - 1) / piece;
  const int64_t threads = std::min<int64_t>(at::get_num_threads(), pieces);
  if (threads <= 1 || at::in_parallel_region()) {
    for (int64_t begin = 0; begin < count; begin += piece) fn(begin, std::min(count, begin + piece));
    return;
  }
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  // One index per thread: at::parallel_for runs each on its own thread.
  at::parallel_for(0, threads, 1, [&](int64_t, int64_t) {
    try {
      for (int64_t p = next.fetch_add(1, std::memory_order_relaxed);
           p < pieces && !failed.load(std::memory_order_relaxed);
           p = next.fetch_add(1, std::memory_order_relaxed)) {
        fn(p * piece, std::min(count, (p + 1) * piece));
      }
    } catch (...) {
      failed.store(true, std::memory_order_relaxed);
      throw;  // at::parallel_for rethrows the first on the calling thread
    }
  });
}

}  // namespace moedil::model
