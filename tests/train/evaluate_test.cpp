#include "moedil/train/evaluate.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

#include "../model/thread_count.h"

namespace moedil::train {
namespace {

struct Fixture {
  model::Classifier model;
  at::Tensor images;
  at::Tensor labels;
};

Fixture make_fixture() {
  torch::manual_seed(1);
  config::ModelConfig c;
  c.patch_size = 4;
  c.embed_dim = 8;
  c.depth = 2;
  c.num_heads = 2;
  c.moe_layer_indices = {0, 1};
  c.moe_num_unshared_experts = 3;
  c.moe_top_k = 2;
  c.moe_routing_granularity = "sample";  // usage counts images
  c.dropout = 0.5;  // eval mode must switch it off
  Fixture f{model::make_model(c, {1, 8, 8, 3}),
            at::randint(0, 256, {10, 1, 8, 8}, at::kByte), at::randint(0, 3, {10}, at::kLong)};
  return f;
}

TEST(Evaluate, AccuracyLossAndConfusionMatchAManualPass) {
  Fixture f = make_fixture();
  const data::Batches batches(f.images, f.labels, at::arange(10, at::kLong), 4,
                              data::Normalizer({0.5}, {0.25}, at::kCPU));
  const Evaluation ev = evaluate(*f.model, batches, 3);

  f.model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = (f.images.to(at::kFloat) / 255.0 - 0.5) / 0.25;
  const at::Tensor logits = f.model->forward(x);
  const at::Tensor pred = logits.argmax(1);
  const double acc = pred.eq(f.labels).sum().item<double>() / 10.0;
  EXPECT_DOUBLE_EQ(ev.acc, acc);
  EXPECT_NEAR(ev.loss, at::cross_entropy_loss(logits, f.labels).item<double>(), 1e-5);
  ASSERT_EQ(ev.confusion.size(), 9u);
  std::vector<int64_t> expected(9, 0);
  for (int64_t i = 0; i < 10; ++i) {
    ++expected[f.labels[i].item<int64_t>() * 3 + pred[i].item<int64_t>()];
  }
  EXPECT_EQ(ev.confusion, expected);
  // Usage: 10 images, top-2, sample routing, per layer.
  ASSERT_EQ(ev.usage.size(), 2u);
  for (const auto& layer : ev.usage) {
    int64_t sum = 0;
    for (int64_t c : layer.counts) sum += c;
    EXPECT_EQ(sum, 20) << layer.layer;
  }
}

TEST(Evaluate, IsPureAndRestoresTrainingMode) {
  Fixture f = make_fixture();
  f.model->train();
  const auto before = f.model->parameters();
  std::vector<at::Tensor> copies;
  for (const auto& p : before) copies.push_back(p.detach().clone());
  f.model->forward(at::randn({2, 1, 8, 8}));  // one training forward: training counters
  const auto train_usage = f.model->expert_usage(true);

  const data::Batches batches(f.images, f.labels, at::arange(10, at::kLong), 4,
                              data::Normalizer({0.5}, {0.25}, at::kCPU));
  const Evaluation first = evaluate(*f.model, batches, 3);
  const Evaluation second = evaluate(*f.model, batches, 3);

  EXPECT_TRUE(f.model->is_training());
  for (std::size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(before[i].equal(copies[i]));
  for (const auto& p : f.model->parameters()) EXPECT_FALSE(p.grad().defined());
  // Training counters untouched; evaluation gives the same answer twice (dropout off).
  const auto after = f.model->expert_usage(true);
  for (std::size_t l = 0; l < after.size(); ++l) EXPECT_EQ(after[l].counts, train_usage[l].counts);
  EXPECT_EQ(first.confusion, second.confusion);
  EXPECT_DOUBLE_EQ(first.loss, second.loss);
  for (std::size_t l = 0; l < first.usage.size(); ++l) {
    EXPECT_EQ(first.usage[l].counts, second.usage[l].counts);
  }
}

using Threads = testing::ThreadCount;

std::vector<data::Batches> splits_of(const Fixture& f, const std::vector<int64_t>& sizes) {
  // Batches of 3 over the first n images, or the last n for every other split.
  std::vector<data::Batches> out;
  for (std::size_t s = 0; s < sizes.size(); ++s) {
    const int64_t start = s % 2 == 0 ? 0 : f.images.size(0) - sizes[s];
    out.emplace_back(f.images, f.labels, at::arange(start, start + sizes[s], at::kLong), 3,
                     data::Normalizer({0.5}, {0.25}, at::kCPU));
  }
  return out;
}

std::vector<const data::Batches*> views(const std::vector<data::Batches>& splits) {
  std::vector<const data::Batches*> out;
  for (const auto& s : splits) out.push_back(&s);
  return out;
}

TEST(EvaluateSplits, SharedOutOverThreadsEachSplitAsEvaluateAlone) {
  const Threads threads(2);
  Fixture f = make_fixture();
  const std::vector<data::Batches> splits = splits_of(f, {4, 10, 1, 7});  // 2, 4, 1, 3 batches
  ASSERT_TRUE(evaluates_in_parallel(*f.model));
  const std::vector<Evaluation> shared = evaluate_splits(*f.model, views(splits), 3);
  const std::vector<model::ExpertUsage> counters_after = f.model->expert_usage(false);
  ASSERT_EQ(shared.size(), splits.size());
  for (std::size_t s = 0; s < splits.size(); ++s) {
    const Evaluation alone = evaluate(*f.model, splits[s], 3, [](auto&, auto&, auto&) {});
    EXPECT_EQ(shared[s].confusion, alone.confusion) << "split " << s;
    EXPECT_DOUBLE_EQ(shared[s].acc, alone.acc) << "split " << s;
    EXPECT_NEAR(shared[s].loss, alone.loss, 1e-5) << "split " << s;
    ASSERT_EQ(shared[s].usage.size(), 2u);
    int64_t routed = 0;
    for (std::size_t l = 0; l < shared[s].usage.size(); ++l) {
      EXPECT_EQ(shared[s].usage[l].counts, alone.usage[l].counts) << "split " << s << " layer " << l;
      EXPECT_NEAR(shared[s].usage[l].routing_entropy, alone.usage[l].routing_entropy, 1e-6);
      for (int64_t c : shared[s].usage[l].counts) routed += c;
    }
    // Its own images only: top-2 in each of the 2 layers.
    EXPECT_EQ(routed, 2 * 2 * splits[s].num_samples()) << "split " << s;
  }
  // The model's evaluation counters end as after the last split.
  for (std::size_t l = 0; l < counters_after.size(); ++l) {
    EXPECT_EQ(counters_after[l].counts, shared.back().usage[l].counts);
  }
}

TEST(EvaluateSplits, SameBitsEveryTimeAndAsOneThreadPerBatch) {
  const Threads threads(2);
  Fixture f = make_fixture();
  const std::vector<data::Batches> splits = splits_of(f, {10, 9, 8});
  const std::vector<Evaluation> first = evaluate_splits(*f.model, views(splits), 3);
  for (int round = 0; round < 3; ++round) {
    const std::vector<Evaluation> again = evaluate_splits(*f.model, views(splits), 3);
    for (std::size_t s = 0; s < splits.size(); ++s) {
      EXPECT_EQ(again[s].loss, first[s].loss) << "round " << round << " split " << s;
      EXPECT_EQ(again[s].confusion, first[s].confusion);
      for (std::size_t l = 0; l < first[s].usage.size(); ++l) {
        EXPECT_EQ(again[s].usage[l].routing_entropy, first[s].usage[l].routing_entropy);
      }
    }
  }
  // Each batch is evaluated on one thread: as LibTorch on one thread evaluates it.
  const Threads one(1);
  const std::vector<Evaluation> serial = evaluate_splits(*f.model, views(splits), 3);
  for (std::size_t s = 0; s < splits.size(); ++s) {
    EXPECT_EQ(serial[s].loss, first[s].loss) << "split " << s;
    EXPECT_EQ(serial[s].confusion, first[s].confusion);
  }
}

/// A model whose forward notes the threads it ran on: a linear layer on the flattened image.
class ThreadNotingImpl : public model::ClassifierImpl {
 public:
  explicit ThreadNotingImpl(bool safe) : safe_(safe) {
    linear = register_module("linear", torch::nn::Linear(64, 3));
  }
  at::Tensor forward(const at::Tensor& images) override {
    {
      const std::lock_guard<std::mutex> lock(mutex);
      threads.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // both threads get batches
    return linear(images.flatten(1));
  }
  bool parallel_eval_safe() const override { return safe_; }

  torch::nn::Linear linear{nullptr};
  std::mutex mutex;
  std::set<std::thread::id> threads;

 private:
  bool safe_;
};

TEST(EvaluateSplits, BatchesRunOnSeveralThreadsOnlyForModelsThatAllowIt) {
  const Threads threads(2);
  Fixture f = make_fixture();
  const std::vector<data::Batches> splits = splits_of(f, {10, 10});  // 8 batches
  auto safe = std::make_shared<ThreadNotingImpl>(true);
  const std::vector<Evaluation> shared = evaluate_splits(*safe, views(splits), 3);
  // Fails where moedil is compiled without OpenMP: at::parallel_for then runs on one thread.
  EXPECT_EQ(safe->threads.size(), 2u) << "the batches were not shared out over 2 threads";
  const std::vector<Evaluation> serial =
      evaluate_splits(*safe, views(splits), 3, /*share_batches=*/false);
  for (std::size_t s = 0; s < splits.size(); ++s) EXPECT_EQ(shared[s].confusion, serial[s].confusion);

  auto unsafe = std::make_shared<ThreadNotingImpl>(false);
  EXPECT_FALSE(evaluates_in_parallel(*unsafe));
  evaluate_splits(*unsafe, views(splits), 3);
  ASSERT_EQ(unsafe->threads.size(), 1u);
  EXPECT_EQ(*unsafe->threads.begin(), std::this_thread::get_id());
}

TEST(EvaluateSplits, OneThreadOrARecordingMixtureEvaluatesBatchAfterBatch) {
  Fixture f = make_fixture();
  {
    const Threads one(1);
    EXPECT_FALSE(evaluates_in_parallel(*f.model));
  }
  const Threads threads(2);
  EXPECT_TRUE(evaluates_in_parallel(*f.model));
  f.model->moe_layers().front().mixture->set_recording(true);
  EXPECT_FALSE(evaluates_in_parallel(*f.model)) << "a recording mixture keeps every batch's gates";
  const std::vector<data::Batches> splits = splits_of(f, {10});
  evaluate_splits(*f.model, views(splits), 3);  // not refused: evaluated batch after batch
  EXPECT_EQ(f.model->moe_layers().front().mixture->take_recorded().size(), 4u);
}

}  // namespace
}  // namespace moedil::train
