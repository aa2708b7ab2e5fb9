// Self-attention on the CPU at the peer experiment's shape (batch 64, 50 tokens, 4 heads of
// 16; bench/peer_moedil.jsonc) and at ViT-Small's (batch 32, 65 tokens, 6 heads of 64):
// moedil's fused kernel (model/cpu_attention.h) against the composed ops it replaced on
// LibTorch 1.13 (batched products, a division, ATen's softmax, heads split and merged),
// without autograd (evaluation) and forward + backward (training). Results: bench/README.md.
//   build/bench/attention_bench [--benchmark_repetitions=5 ...]
// MOEDIL_BENCH_THREADS overrides the thread count (default: all cores, as moedil run).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "bench_main.h"
#include "moedil/model/attention.h"
#include "moedil/model/cpu_attention.h"

namespace {

using namespace moedil::model;

/// args: batch, tokens, heads, head dim, fused (1) or composed (0), training (1) or not (0).
void BM_Attention(benchmark::State& state) {
  const int64_t b = state.range(0), t = state.range(1), heads = state.range(2),
                dh = state.range(3);
  const bool fused = state.range(4) == 1;
  const bool training = state.range(5) == 1;
  at::manual_seed(0);
  const at::Tensor qkv = at::randn({b, t, 3 * heads * dh}).requires_grad_(training);
  const at::Tensor upstream = at::randn({b, t, heads * dh});
  for (auto _ : state) {
    if (training) {
      const at::Tensor out =
          fused ? cpu_attention(qkv, heads) : multi_head_attention(qkv, heads, /*fused=*/false);
      (out * upstream).sum().backward();
      benchmark::DoNotOptimize(qkv.grad().data_ptr<float>());
    } else {
      c10::InferenceMode inference;
      const at::Tensor out =
          fused ? cpu_attention(qkv, heads) : multi_head_attention(qkv, heads, /*fused=*/false);
      benchmark::DoNotOptimize(out.data_ptr<float>());
    }
  }
  state.SetLabel(std::string(fused ? "fused" : "composed") +
                 (training ? " forward+backward" : " forward"));
}

void shapes(benchmark::internal::Benchmark* bench) {
  for (const auto& s : {std::array<int64_t, 4>{64, 50, 4, 16}, {32, 65, 6, 64}}) {
    for (int64_t training : {0, 1}) {
      for (int64_t fused : {0, 1}) bench->Args({s[0], s[1], s[2], s[3], fused, training});
    }
  }
}

BENCHMARK(BM_Attention)->Apply(shapes)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return moedil::bench::run_benchmarks(argc, argv); }
