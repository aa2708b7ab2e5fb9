// Evaluation of bench/peer_moedil.jsonc's model on the peer experiment's test splits (5 x 400
// images of 1x28x28 in batches of 64, random pixels): evaluate_splits with its batches shared
// out over the threads (one batch per thread at a time) against batch after batch on all
// threads, alternating (wall and CPU time), and one forward of a batch of 64 on 1 thread and on
// all.
//   build/bench/eval_bench [ROUNDS] [CONFIG]   (default 10 and bench/peer_moedil.jsonc)
// Set GOMP_SPINCOUNT and OPENBLAS_CORETYPE as moedil run does (its "[device]" line) to compare
// with a run's "eval" time; MOEDIL_BENCH_THREADS sets the threads (default all cores).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/utils.h>

#include "bench_threads.h"
#include "moedil/config/load.h"
#include "moedil/config/run_config.h"
#include "moedil/data/batching.h"
#include "moedil/model/registry.h"
#include "moedil/train/evaluate.h"
#include "moedil/train/experiment.h"

namespace {

using namespace moedil;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// CPU time of the whole process (user + system), ms.
double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

template <class F>
double ms(const F& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10;
  const std::string path = argc > 2 ? argv[2] : MOEDIL_SOURCE_DIR "/bench/peer_moedil.jsonc";
  const config::RunConfig c = config::load_run_config(path, {}, train::name_catalog());
  bench::set_bench_threads();
  torch::manual_seed(0);
  model::Classifier net = model::make_model(c.model, {1, 28, 28, 10});
  const data::Normalizer normalize({0.5}, {0.25}, at::kCPU);
  std::vector<data::Batches> splits;
  for (int d = 0; d < 5; ++d) {
    splits.emplace_back(at::randint(256, {400, 1, 28, 28}, at::kByte),
                        at::randint(10, {400}, at::kLong), at::arange(400, at::kLong),
                        c.eval_batch_size, normalize);
  }
  std::vector<const data::Batches*> views;
  for (const auto& s : splits) views.push_back(&s);
  const auto shared = [&] { train::evaluate_splits(*net, views, 10, /*share_batches=*/true); };
  const auto serial = [&] { train::evaluate_splits(*net, views, 10, /*share_batches=*/false); };
  shared();
  serial();
  std::vector<double> a, b;
  double cpu_a = 0, cpu_b = 0;
  for (int r = 0; r < rounds; ++r) {
    const double c0 = cpu_ms();
    a.push_back(ms(shared));
    const double c1 = cpu_ms();
    b.push_back(ms(serial));
    cpu_a += c1 - c0;
    cpu_b += cpu_ms() - c1;
  }
  const int threads = at::get_num_threads();
  std::printf("threads %d, %d rounds, batches shared out: %s\n", threads, rounds,
              train::evaluates_in_parallel(*net) ? "yes" : "no (model or settings)");
  std::printf("evaluate 5 x 400 images, batches shared out:  %7.1f ms (median), CPU %7.1f ms\n",
              median(a), cpu_a / rounds);
  std::printf("evaluate 5 x 400 images, batch after batch:    %7.1f ms (median), CPU %7.1f ms\n",
              median(b), cpu_b / rounds);
  // One forward of a batch on 1 thread and on all: how far a second thread helps one batch.
  net->eval();
  const c10::InferenceMode inference;
  const at::Tensor x = splits[0].get(0).first;
  std::vector<double> one, all;
  at::set_num_threads(1);
  for (int r = 0; r < rounds * 5; ++r) one.push_back(ms([&] { (void)net->forward(x); }));
  at::set_num_threads(threads);
  for (int r = 0; r < rounds * 5; ++r) all.push_back(ms([&] { (void)net->forward(x); }));
  std::printf("one forward of %ld images on 1 thread:          %7.2f ms (median)\n",
              static_cast<long>(x.size(0)), median(one));
  std::printf("one forward of %ld images on %d threads:         %7.2f ms (median)\n",
              static_cast<long>(x.size(0)), threads, median(all));
  return 0;
}
