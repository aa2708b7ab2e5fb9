#include "moedil/model/vit_slow_centroid.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kDim = 8;
constexpr int64_t kExperts = 3;

config::ModelConfig small_config() {
  config::ModelConfig c;
  c.name = "vit_moe_imagelevel";
  c.patch_size = 7;
  c.embed_dim = kDim;
  c.depth = 2;
  c.num_heads = 2;
  c.mlp_ratio = 1.0;
  c.moe_layer_indices = {0, 1};
  c.moe_num_unshared_experts = kExperts;
  return c;
}

std::shared_ptr<ViTSlowCentroidImpl> build_slow(const config::ModelConfig& c, uint64_t seed = 0) {
  auto model = std::dynamic_pointer_cast<ViTSlowCentroidImpl>(build(c, mnist_shape(), seed));
  EXPECT_NE(model, nullptr);
  return model;
}

TEST(ViTSlowCentroidTest, ParametersAreTheViTsWithExpertsAndNoRouter) {
  auto model = build_slow(small_config());
  const int64_t d = kDim, h = kDim, patches = 16, classes = 10;
  const int64_t embed = 7 * 7 * d + d + d /*cls*/ + (patches + 1) * d;
  const int64_t attention_part = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d;
  const int64_t mlp = (d * h + h) + (h * d + d);
  const int64_t top = 2 * d + d * classes + classes;
  EXPECT_EQ(count_parameters(*model), embed + 2 * (attention_part + kExperts * mlp) + top);
  std::vector<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(buffers, (std::vector<std::string>{
                         "blocks.0.moe.router.fast_centroids", "blocks.0.moe.router.slow_centroids",
                         "blocks.0.moe.router.initialized", "blocks.1.moe.router.fast_centroids",
                         "blocks.1.moe.router.slow_centroids", "blocks.1.moe.router.initialized"}));
  EXPECT_EQ(model->moe_layer_names(), (std::vector<std::string>{"blocks.0.moe", "blocks.1.moe"}));
}

TEST(ViTSlowCentroidTest, TrainsOnlyThroughTheTaskLossAndCountsOneRowPerImage) {
  auto model = build_slow(small_config(), 3);
  model->train();
  at::manual_seed(4);
  const at::Tensor x = images(mnist_shape(), 12);
  const at::Tensor logits = model->forward(x);
  EXPECT_EQ(logits.sizes().vec(), (std::vector<int64_t>{12, 10}));
  // No auxiliary loss: a constant 0 that trains nothing.
  EXPECT_EQ(model->aux_loss().item<double>(), 0.0);
  EXPECT_FALSE(model->aux_loss().requires_grad());
  at::cross_entropy_loss(logits, at::randint(0, 10, {12}, at::kLong)).backward();
  for (const auto& usage : model->expert_usage(true)) EXPECT_EQ(sum_of(usage.counts), 12);
  EXPECT_TRUE(model->stem.pos_embed.grad().defined()) << "positions learn (unlike there)";
  // The same images in evaluation: same logits twice, nothing moved.
  model->eval();
  std::vector<at::Tensor> before;
  for (const auto& b : model->buffers()) before.push_back(b.clone());
  const at::Tensor a = model->forward(x);
  const at::Tensor b = model->forward(x);
  EXPECT_TRUE(at::equal(a, b));
  std::size_t i = 0;
  for (const auto& buf : model->buffers()) EXPECT_TRUE(at::equal(buf, before[i++]));
}

TEST(ViTSlowCentroidTest, SameSeedSameModelAndRouting) {
  auto m1 = build_slow(small_config(), 5);
  auto m2 = build_slow(small_config(), 5);
  m1->train();
  m2->train();
  at::manual_seed(6);
  const at::Tensor x = images(mnist_shape(), 5);
  EXPECT_TRUE(at::equal(m1->forward(x), m2->forward(x)));
  EXPECT_EQ(m1->expert_usage(true)[1].counts, m2->expert_usage(true)[1].counts);
}

}  // namespace
}  // namespace moedil::model
