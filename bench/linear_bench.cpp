// Linear layers on token rows at the peer experiment's shapes (bench/peer_moedil.jsonc: batch
// 64 x 50 tokens = 3,200 rows, dim 64; qkv 64 -> 192, MLP 64 -> 128 -> 64) and at ViT-Small's
// (batch 32 x 65 tokens, 384 -> 1152): moedil's row-blocked BLAS path (model/linear.h) against
// at::addmm over the same rows (what apply_linear did before), forward without autograd
// (evaluation) and forward + backward (training: d(x), d(W), d(b)). ViT-Small's layer is above
// kLinearMaxDirectWeights, so apply_linear leaves it to addmm: its "blocked BLAS" rows are
// skipped unless the limit is raised to measure it again. The outputs are kept in a
// ring of 32, as a training step keeps its activations, so they do not stay in cache.
// BM_ForwardProduct: the forward product alone on one thread, moedil's AVX-512 kernel
// (model/linear_kernel.h) against OpenBLAS's sgemm with the bias copy. Results: bench/README.md.
//   build/bench/linear_bench [--benchmark_repetitions=5 ...]
// MOEDIL_BENCH_THREADS overrides the thread count (default: all cores, as moedil run).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/modules/linear.h>

#include "bench_main.h"
#include "moedil/model/cblas.h"
#include "moedil/model/linear.h"
#include "moedil/model/linear_kernel.h"

namespace {

using namespace moedil::model;

/// args: rows, in, out, direct (1) or addmm (0), training (1) or not (0).
void BM_Linear(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const bool direct = state.range(3) == 1;
  const bool training = state.range(4) == 1;
  at::manual_seed(0);
  torch::nn::Linear layer(in, out);
  const at::Tensor x = at::randn({rows, in}).requires_grad_(training);
  const at::Tensor upstream = at::randn({rows, out});
  if (direct && !direct_linear_applies(*layer, x)) {
    state.SkipWithError("the direct path does not apply (above kLinearMaxDirectWeights, or no cblas_sgemm)");
    return;
  }
  std::vector<at::Tensor> ring(32);
  std::size_t next = 0;
  const auto forward = [&] {
    return direct ? apply_linear(*layer, x) : at::addmm(layer->bias, x, layer->weight.t());
  };
  for (auto _ : state) {
    if (training) {
      const at::Tensor y = forward();
      y.backward(upstream);
      ring[next++ % ring.size()] = y;
      benchmark::DoNotOptimize(layer->weight.grad().data_ptr<float>());
    } else {
      c10::InferenceMode inference;
      ring[next++ % ring.size()] = forward();
    }
  }
  const double flops = 2.0 * static_cast<double>(rows * in * out) * (training ? 3.0 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.SetLabel(std::string(direct ? "blocked BLAS" : "addmm") +
                 (training ? " forward+backward" : " forward"));
}

void shapes(benchmark::internal::Benchmark* bench) {
  for (const auto& s : {std::array<int64_t, 3>{3200, 64, 192}, {3200, 64, 128}, {3200, 128, 64},
                        {2080, 384, 1152}}) {
    for (int64_t training : {0, 1}) {
      for (int64_t direct : {0, 1}) bench->Args({s[0], s[1], s[2], direct, training});
    }
  }
}

BENCHMARK(BM_Linear)->Apply(shapes)->Unit(benchmark::kMicrosecond)->UseRealTime();

/// The forward product alone on the calling thread, [rows, in] x W^T + b in blocks of
/// kLinearRowBlock rows: model/linear_kernel.h (W packed once per call, the bias added in
/// registers) against OpenBLAS's sgemm after a copy of the bias into the block (what
/// apply_linear did before the kernel). args: rows, in, out, kernel (1) or sgemm (0). Where
/// both run, the counter "differing" is how many outputs of the two differ in their bits (0:
/// the kernel computes what this BLAS does).
void BM_ForwardProduct(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  const bool kernel = state.range(3) == 1;
  const cblas::Sgemm sgemm = cblas::sgemm();
  const bool kernel_runs = linear_kernel::applies(in, out);
  if ((kernel && !kernel_runs) || (!kernel && sgemm == nullptr)) {
    state.SkipWithError(kernel ? "moedil's kernel does not apply (no AVX-512, or out not 16k wide)"
                               : "no cblas_sgemm in this process");
    return;
  }
  at::manual_seed(0);
  const at::Tensor x = at::randn({rows, in});
  const at::Tensor w = at::randn({out, in});
  const at::Tensor b = at::randn({out});
  const float* px = x.data_ptr<float>();
  const float* pw = w.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  std::vector<float> packed(static_cast<std::size_t>(linear_kernel::packed_floats(in, out)));
  const auto product = [&](bool on_kernel, float* py) {
    if (on_kernel) linear_kernel::pack(pw, in, out, packed.data());
    for (int64_t r0 = 0; r0 < rows; r0 += kLinearRowBlock) {
      const int64_t n = std::min(kLinearRowBlock, rows - r0);
      float* yb = py + r0 * out;
      if (on_kernel) {
        linear_kernel::forward(px + r0 * in, in, n, in, packed.data(), pb, out, yb, out);
      } else {
        for (int64_t r = 0; r < n; ++r) std::copy(pb, pb + out, yb + r * out);
        sgemm(cblas::kRowMajor, cblas::kNoTrans, cblas::kTrans, static_cast<int>(n),
              static_cast<int>(out), static_cast<int>(in), 1.0f, px + r0 * in,
              static_cast<int>(in), pw, static_cast<int>(in), 1.0f, yb, static_cast<int>(out));
      }
    }
  };
  std::vector<float> y(static_cast<std::size_t>(rows * out));
  if (kernel_runs && sgemm != nullptr) {
    std::vector<float> other(y.size());
    product(true, y.data());
    product(false, other.data());
    int64_t differing = 0;
    for (std::size_t i = 0; i < y.size(); ++i) differing += y[i] != other[i];
    state.counters["differing"] = static_cast<double>(differing);
  }
  for (auto _ : state) {
    product(kernel, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * static_cast<double>(rows * in * out) *
                             static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
  state.SetLabel(kernel ? "moedil kernel" : "sgemm + bias copy");
}

void product_shapes(benchmark::internal::Benchmark* bench) {
  for (const auto& s : {std::array<int64_t, 3>{3200, 64, 192}, {3200, 64, 64}, {3200, 64, 128},
                        {3200, 128, 64}, {2080, 384, 1152}, {17, 64, 64}, {34, 64, 64}, {64, 64, 64}, {128, 64, 128}, {256, 64, 128}}) {
    for (int64_t kernel : {0, 1}) bench->Args({s[0], s[1], s[2], kernel});
  }
}

BENCHMARK(BM_ForwardProduct)->Apply(product_shapes)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) { return moedil::bench::run_benchmarks(argc, argv); }
