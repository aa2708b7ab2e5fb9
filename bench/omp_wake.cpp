// What an OpenMP region costs when its workers have gone to sleep: the calling thread runs
// alone for PAUSE us (a busy loop, as LibTorch's serial work between two regions), then opens a
// 2-thread region in which each thread works WORK us; printed: the region's time (median, p90,
// mean) over N regions, for each pause given. Run it under two spin settings to compare:
//   GOMP_SPINCOUNT=1000 build/bench/omp_wake; GOMP_SPINCOUNT=300000 build/bench/omp_wake
//   build/bench/omp_wake [WORK_US [N [PAUSE_US...]]]   (default 20, 3000, pauses 20 60 125)
// On the 2-core Zen 5 VM of bench/README.md: ~20.5 us at every pause with 300,000; with 1,000,
// 20.5 us after 20 us and 41-45 us after 60-125 us (the workers slept and had to be woken).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

void busy(double us) {
  const auto start = Clock::now();
  while (us_since(start) < us) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double work = argc > 1 ? std::atof(argv[1]) : 20;
  const int n = argc > 2 ? std::atoi(argv[2]) : 3000;
  std::vector<double> pauses;
  for (int i = 3; i < argc; ++i) pauses.push_back(std::atof(argv[i]));
  if (pauses.empty()) pauses = {20, 60, 125};
  if (n <= 0 || work < 0) {
    std::fprintf(stderr, "usage: omp_wake [WORK_US [N [PAUSE_US...]]]\n");
    return 2;
  }
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  std::printf("GOMP_SPINCOUNT=%s, 2 threads, %.0f us of work each, %d regions per pause\n",
              spin != nullptr ? spin : "(unset)", work, n);
  for (const double pause : pauses) {
    std::vector<double> t;
    t.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      busy(pause);
      const auto start = Clock::now();
#pragma omp parallel num_threads(2)
      busy(work);
      t.push_back(us_since(start));
    }
    std::sort(t.begin(), t.end());
    double sum = 0;
    for (const double v : t) sum += v;
    std::printf("pause %5.0f us: region median %6.1f us, p90 %6.1f us, mean %6.1f us\n", pause,
                t[t.size() / 2], t[t.size() * 9 / 10], sum / static_cast<double>(t.size()));
  }
  return 0;
}
