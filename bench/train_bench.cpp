// One training step of every registered model family (forward, backward, AdamW; batch 64 of
// 28x28 grayscale, the quickstart's shapes, each family's defaults), and one evaluation pass
// over five quickstart-sized domains (5 x 1200 images) at two evaluation batch sizes.
// Results and the machine: bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include "bench_threads.h"
#include "moedil/config/run_config.h"
#include "moedil/data/batching.h"
#include "moedil/model/registry.h"
#include "moedil/train/evaluate.h"

namespace {

using namespace moedil;

/// The quickstart's model options (configs/quickstart.jsonc) with `family` as the name.
config::ModelConfig quickstart_model(const std::string& family) {
  config::ModelConfig c;
  c.name = family;
  c.patch_size = 7;
  c.embed_dim = 64;
  c.depth = 4;
  c.num_heads = 4;
  c.mlp_ratio = 2.0;
  c.moe_layer_indices = {1, 3};
  c.moe_num_shared_experts = family == "vit_moe" ? 1 : 0;
  c.moe_routing_granularity = "sample";
  c.moe_gate = "probability";
  c.moe_balance_losses = {{"switch", 1.0}};
  return c;
}

void BM_TrainStep(benchmark::State& state, const std::string& family) {
  torch::manual_seed(0);
  const model::InputShape input{1, 28, 28, 10};
  model::Classifier net = model::make_model(quickstart_model(family), input);
  net->train();
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(1e-3));
  const at::Tensor x = at::randn({64, 1, 28, 28});
  const at::Tensor y = at::randint(10, {64}, at::kLong);
  for (auto _ : state) {
    const at::Tensor logits = net->forward(x);
    at::Tensor loss = at::cross_entropy_loss(logits, y);
    const at::Tensor aux = net->aux_loss();
    if (aux.defined()) loss = loss + 0.01 * aux;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    benchmark::DoNotOptimize(loss.data_ptr<float>());
  }
  state.counters["samples_per_s"] =
      benchmark::Counter(64.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::to_string(model::count_parameters(*net)) + " parameters");
}

/// arg: evaluation batch size. Five domains of 1200 images each, the quickstart vit_moe.
void BM_EvaluateAllDomains(benchmark::State& state) {
  torch::manual_seed(0);
  const model::InputShape input{1, 28, 28, 10};
  model::Classifier net = model::make_model(quickstart_model("vit_moe"), input);
  const at::Tensor images = at::randint(256, {1200, 1, 28, 28}, at::kByte);
  const at::Tensor labels = at::randint(10, {1200}, at::kLong);
  const data::Normalizer normalizer({0.5}, {0.25}, at::kCPU);
  const data::Batches batches(images, labels, at::arange(1200, at::kLong), state.range(0),
                              normalizer);
  for (auto _ : state) {
    for (int domain = 0; domain < 5; ++domain) {
      benchmark::DoNotOptimize(train::evaluate(*net, batches, 10).acc);
    }
  }
  state.counters["images_per_s"] = benchmark::Counter(
      6000.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EvaluateAllDomains)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  moedil::bench::set_bench_threads();
  for (const std::string& family : model::model_registry().names()) {
    benchmark::RegisterBenchmark(("BM_TrainStep/" + family).c_str(), BM_TrainStep, family)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
