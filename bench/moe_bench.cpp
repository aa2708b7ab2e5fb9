// MoE layer forward+backward: sparse grouped dispatch against the dense every-expert-on-every-row
// reference, and one dense MLP of a single expert's size over the same rows for scale.
// Results: bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/utils.h>

#include <torch/nn/modules/linear.h>

#include "bench_main.h"
#include "moedil/model/feed_forward.h"
#include "moedil/model/moe/moe_layer.h"

namespace {

using namespace moedil::model;

/// args: experts E, top-k, token routing (1) or sample routing (0), dim, dense reference (1).
void BM_MoeLayer(benchmark::State& state) {
  const int64_t experts = state.range(0);
  const int64_t k = state.range(1);
  const bool token = state.range(2) == 1;
  const int64_t dim = state.range(3);
  const bool dense = state.range(4) == 1;
  torch::manual_seed(0);
  moe::MoeLayer layer(moe::MoeLayerOptions(dim, 2 * dim, experts)
                          .top_k(k)
                          .granularity(token ? "token" : "sample"));
  const at::Tensor x = at::randn({128, 17, dim}).requires_grad_(true);
  for (auto _ : state) {
    const at::Tensor y = dense ? layer->forward_dense(x) : layer->forward(x);
    y.sum().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr<float>());
  }
  state.SetLabel(std::string(dense ? "dense" : "sparse") + (token ? " token" : " sample"));
}

/// One expert-sized MLP over the same 128 x 17 rows (the target's unit of cost).
void BM_SingleMlp(benchmark::State& state) {
  const int64_t dim = state.range(0);
  torch::manual_seed(0);
  FeedForward mlp(FeedForwardOptions(dim, 2 * dim));
  const at::Tensor x = at::randn({128, 17, dim}).requires_grad_(true);
  for (auto _ : state) {
    mlp->forward(x).sum().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr<float>());
  }
}

/// The same MLP plus the router's own work (Linear dim -> E, softmax, top-1 on every row): the
/// issue's reference for the MoE layer's cost, "one dense MLP ... (plus the router)".
void BM_SingleMlpPlusRouter(benchmark::State& state) {
  const int64_t dim = state.range(0);
  torch::manual_seed(0);
  FeedForward mlp(FeedForwardOptions(dim, 2 * dim));
  torch::nn::Linear router(dim, 8);
  const at::Tensor x = at::randn({128, 17, dim}).requires_grad_(true);
  for (auto _ : state) {
    const at::Tensor probs = at::softmax(router(x), -1);
    const at::Tensor gate = std::get<0>(probs.topk(1, -1));
    (mlp->forward(x) * gate).sum().backward();
    benchmark::DoNotOptimize(x.grad().data_ptr<float>());
  }
}

void moe_args(benchmark::internal::Benchmark* b) {
  for (int64_t dim : {128, 256}) {
    for (int64_t e : {4, 8, 16}) {
      for (int64_t k : {1, 2}) {
        for (int64_t token : {1, 0}) {
          for (int64_t dense : {0, 1}) b->Args({e, k, token, dim, dense});
        }
      }
    }
  }
}

BENCHMARK(BM_MoeLayer)->Apply(moe_args)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SingleMlp)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SingleMlpPlusRouter)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return moedil::bench::run_benchmarks(argc, argv); }
