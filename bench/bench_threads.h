#pragma once
// The benches' thread count: MOEDIL_BENCH_THREADS, else all cores, as moedil run.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>

namespace moedil::bench {

inline void set_bench_threads() {
  const char* threads = std::getenv("MOEDIL_BENCH_THREADS");
  at::set_num_threads(threads != nullptr
                          ? std::atoi(threads)
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace moedil::bench
