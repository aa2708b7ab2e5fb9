#include "moedil/train/evaluate.h"

#include <gtest/gtest.h>

#include <torch/utils.h>

#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

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

}  // namespace
}  // namespace moedil::train
