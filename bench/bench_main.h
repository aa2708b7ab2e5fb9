#pragma once
// main() of the Google Benchmark binaries: the benches' thread count (bench_threads.h), then
// the registered benchmarks.
#include <benchmark/benchmark.h>

#include "bench_threads.h"

namespace moedil::bench {

inline int run_benchmarks(int argc, char** argv) {
  set_bench_threads();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace moedil::bench
