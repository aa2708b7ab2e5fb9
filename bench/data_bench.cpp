// Data-path benchmarks: image decoding on all cores, the in-memory batch loader, and one
// vit_moe training step for comparison (the loader must feed much faster than training eats).
// Results and the machine they were measured on: bench/README.md.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <ATen/Parallel.h>
#include <opencv2/imgcodecs.hpp>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include "moedil/config/run_config.h"
#include "moedil/data/augment.h"
#include "moedil/data/batching.h"
#include "moedil/data/dataset.h"
#include "moedil/data/image_folder.h"
#include "moedil/model/registry.h"

namespace {

namespace fs = std::filesystem;
using namespace moedil;

/// Peak resident set size of this process in MB (VmHWM).
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

/// 2000 128x128 JPEGs in <tmp>/moedil_bench_jpeg/<domain>/<class>/, made once.
fs::path jpeg_folder() {
  static const fs::path root = [] {
    const fs::path dir = fs::temp_directory_path() / "moedil_bench_jpeg";
    if (fs::exists(dir / "done")) return dir;
    std::mt19937 engine(1);
    for (int i = 0; i < 2000; ++i) {
      const fs::path folder = dir / ("d" + std::to_string(i % 2)) / ("c" + std::to_string((i / 2) % 10));
      fs::create_directories(folder);
      cv::Mat image(128, 128, CV_8UC3);
      for (int y = 0; y < 128; ++y) {
        for (int x = 0; x < 128; ++x) {
          image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x + i) % 256),
                                                static_cast<uchar>((y * 2) % 256),
                                                static_cast<uchar>(engine() % 64));
        }
      }
      cv::imwrite((folder / (std::to_string(i) + ".jpg")).string(), image);
    }
    std::ofstream(dir / "done") << "ok";
    return dir;
  }();
  return root;
}

void BM_DecodeJpegFolder(benchmark::State& state) {
  const fs::path root = jpeg_folder();
  data::ImageLoadOptions options;
  options.resize = 64;
  options.threads = state.range(0);
  int64_t images = 0;
  for (auto _ : state) {
    const data::Dataset d = data::load_image_folder("bench", root, options);
    images += d.size();
  }
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(images),
                                                      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeJpegFolder)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Batches of 64 from a Fashion-MNIST-sized uint8 tensor (60000x1x28x28), shuffled, normalised,
/// optionally augmented.
void BM_LoaderBatches(benchmark::State& state) {
  const at::Tensor images = at::randint(0, 256, {60000, 1, 28, 28}, at::kByte);
  const at::Tensor labels = at::randint(0, 10, {60000}, at::kLong);
  data::Batches batches(images, labels, at::arange(60000, at::kLong), 64,
                        data::Normalizer({0.3}, {0.35}, at::kCPU));
  batches.shuffle(1);
  config::AugmentationConfig aug;
  aug.random_crop_padding = state.range(0);
  aug.horizontal_flip = state.range(0) > 0;
  const data::Augmenter augment(aug);
  int64_t b = 0;
  for (auto _ : state) {
    auto batch = augment.enabled()
                     ? batches.get(b % batches.num_batches(),
                                   [&](const at::Tensor& u8) { return augment(u8, b); })
                     : batches.get(b % batches.num_batches());
    benchmark::DoNotOptimize(batch.first.data_ptr<float>());
    ++b;
  }
  state.counters["batches_per_s"] = benchmark::Counter(static_cast<double>(b),
                                                       benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoaderBatches)->Arg(0)->Arg(2)->Unit(benchmark::kMicrosecond);

/// One training step (forward, backward, AdamW) of the quickstart vit_moe on a batch of 64.
void BM_VitMoeTrainStep(benchmark::State& state) {
  torch::manual_seed(0);
  config::ModelConfig c;  // defaults = the quickstart model but for the shared expert
  c.moe_num_shared_experts = 1;
  auto model = model::make_model(c, {1, 28, 28, 10});
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const at::Tensor x = at::randn({64, 1, 28, 28});
  const at::Tensor y = at::randint(0, 10, {64}, at::kLong);
  int64_t steps = 0;
  for (auto _ : state) {
    optimizer.zero_grad();
    const at::Tensor loss = at::cross_entropy_loss(model->forward(x), y);
    loss.backward();
    optimizer.step();
    ++steps;
  }
  state.counters["steps_per_s"] = benchmark::Counter(static_cast<double>(steps),
                                                     benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VitMoeTrainStep)->Unit(benchmark::kMillisecond);

/// A CORe50-sized set at 64x64 held as uint8 (164866 images x 3 x 64 x 64 = 2.03 GB):
/// normalisation statistics and a pass of batches; reports the process's peak RSS.
void BM_Core50SizedInMemory(benchmark::State& state) {
  for (auto _ : state) {
    data::Dataset d;
    d.images = at::empty({164866, 3, 64, 64}, at::kByte).fill_(100);
    d.labels = at::zeros({164866}, at::kLong);
    data::compute_normalisation(d);
    data::Batches batches(d.images, d.labels, at::arange(164866, at::kLong), 128,
                          data::Normalizer(d.mean, d.stddev, at::kCPU));
    for (int64_t b = 0; b < 200; ++b) benchmark::DoNotOptimize(batches.get(b).first.data_ptr());
  }
  state.counters["peak_rss_mb"] = peak_rss_mb();
}
BENCHMARK(BM_Core50SizedInMemory)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
