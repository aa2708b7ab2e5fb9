#pragma once
// The benches' thread count: MOEDIL_BENCH_THREADS, else the CPUs this process may use, as
// moedil run (common/cpu_count.h). bench_main.h has the Google Benchmark main that sets it.
#include <cstdlib>

#include <ATen/Parallel.h>

#include "moedil/common/cpu_count.h"

namespace moedil::bench {

inline void set_bench_threads() {
  const char* threads = std::getenv("MOEDIL_BENCH_THREADS");
  at::set_num_threads(threads != nullptr ? std::atoi(threads)
                                         : static_cast<int>(available_cpus()));
}

}  // namespace moedil::bench
