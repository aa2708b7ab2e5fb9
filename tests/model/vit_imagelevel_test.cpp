#include "moedil/model/vit_imagelevel.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/model/moe/centroid_router.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kDim = 8;
constexpr int64_t kHeads = 2;
constexpr int64_t kDepth = 2;
constexpr int64_t kHidden = 16;  // mlp_ratio 2 * kDim
constexpr int64_t kExperts = 3;

config::ModelConfig small_config() {
  config::ModelConfig c;
  c.name = "vit_moe_centroid";
  c.patch_size = 7;
  c.embed_dim = kDim;
  c.depth = kDepth;
  c.num_heads = kHeads;
  c.mlp_ratio = 2.0;
  c.dropout = 0.0;
  c.moe_layer_indices = {1};
  c.moe_num_unshared_experts = kExperts;
  return c;
}

std::shared_ptr<ViTImageLevelImpl> build(const config::ModelConfig& c, const InputShape& in,
                                         uint64_t seed = 0) {
  at::manual_seed(seed);
  auto model = std::dynamic_pointer_cast<ViTImageLevelImpl>(make_model(c, in));
  EXPECT_NE(model, nullptr);
  return model;
}

TEST(ViTImageLevelTest, OutputShapesForGrayAndColourInputs) {
  auto gray = build(small_config(), mnist_shape());
  gray->train();
  const at::Tensor g = gray->forward(images(mnist_shape(), 4));
  EXPECT_EQ(g.sizes().vec(), (std::vector<int64_t>{4, 10}));
  EXPECT_TRUE(at::isfinite(g).all().item<bool>());

  config::ModelConfig c = small_config();
  c.patch_size = 8;
  auto colour = build(c, cifar_shape());
  colour->eval();
  const at::Tensor o = colour->forward(images(cifar_shape(), 3));
  EXPECT_EQ(o.sizes().vec(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(at::isfinite(o).all().item<bool>());
  EXPECT_EQ(colour->stem.pos_embed.sizes().vec(), (std::vector<int64_t>{1, 17, kDim}));
  EXPECT_EQ(colour->moe_layer_names(), (std::vector<std::string>{"blocks.1.moe"}));
}

TEST(ViTImageLevelTest, ParameterCountMatchesAHandCount) {
  auto model = build(small_config(), mnist_shape());
  const int64_t d = kDim, h = kHidden, e = kExperts, patches = 16, classes = 10;
  const int64_t embed = 1 * 7 * 7 * d + d + d /*cls*/ + (patches + 1) * d;
  const int64_t attention_part = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d;
  const int64_t mlp = (d * h + h) + (h * d + d);
  const int64_t router = d * d + d;
  const int64_t dense_block = attention_part + mlp;
  const int64_t moe_block = attention_part + router + e * mlp;
  const int64_t top = 2 * d + d * classes + classes;
  EXPECT_EQ(count_parameters(*model), embed + dense_block + moe_block + top);
  // The centroids are buffers, not parameters; the projection is found as a router parameter.
  int64_t router_params = 0;
  for (const auto& p : model->named_parameters()) {
    if (p.key().find("router.") != std::string::npos) router_params += p.value().numel();
  }
  EXPECT_EQ(router_params, router);
  std::vector<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(buffers, (std::vector<std::string>{"blocks.1.moe.router.fast_centroids",
                                               "blocks.1.moe.router.slow_centroids"}));
  const at::Tensor fast = model->moe_mlps[0]->router->fast_centroids;
  EXPECT_EQ(fast.sizes().vec(), (std::vector<int64_t>{kExperts, kDim}));
  // Normalised random draws: unit rows, distinct experts.
  EXPECT_TRUE(at::allclose(fast.norm(2, {1}), at::ones({kExperts}), 1e-5, 1e-6));
  EXPECT_LT(at::matmul(fast, fast.t()).triu(1).abs().max().item<double>(), 0.999);
}

TEST(ViTImageLevelTest, GradientsReachEveryLearningParameterIncludingTheRouter) {
  auto model = build(small_config(), mnist_shape(), 3);
  model->train();
  at::manual_seed(4);
  const at::Tensor x = images(mnist_shape(), 16);
  const at::Tensor y = at::randint(0, 10, {16}, at::kLong);
  const at::Tensor loss = at::cross_entropy_loss(model->forward(x), y);
  loss.backward();
  const std::vector<int64_t> usage = model->expert_usage(true).at(0).counts;
  ASSERT_EQ(usage.size(), static_cast<std::size_t>(kExperts));
  int64_t total = 0;
  for (int64_t u : usage) total += u;
  EXPECT_EQ(total, 16);  // one row per image
  int64_t router_checked = 0;
  for (const auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    const at::Tensor& g = p.value().grad();
    const auto experts_at = name.find("experts.");
    if (experts_at != std::string::npos) {
      // An expert learns iff it received images.
      const int64_t e = std::stoll(name.substr(experts_at + 8));
      const bool has_grad = g.defined() && g.abs().sum().item<double>() > 0;
      EXPECT_EQ(has_grad, usage[e] > 0) << name;
      continue;
    }
    if (name.find("router.") != std::string::npos) ++router_checked;
    ASSERT_TRUE(g.defined()) << name;
    EXPECT_GT(g.abs().sum().item<double>(), 0.0) << name;
  }
  EXPECT_EQ(router_checked, 2);  // proj weight and bias: through the gate alone here
}

TEST(ViTImageLevelTest, AuxiliaryLossesGiveTheRouterGradients) {
  auto model = build(small_config(), mnist_shape(), 3);
  model->train();
  model->forward(images(mnist_shape(), 8));
  const at::Tensor aux = model->aux_loss();
  ASSERT_TRUE(aux.defined());
  aux.backward();
  const at::Tensor& g = model->moe_mlps[0]->router->proj->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(g.abs().sum().item<double>(), 0.0);
  // Evaluation leaves no auxiliary loss.
  model->eval();
  model->forward(images(mnist_shape(), 2));
  EXPECT_FALSE(model->aux_loss().defined());
}

TEST(ViTImageLevelTest, AdamStepsLowerTheLossOnAFixedBatch) {
  auto model = build(small_config(), mnist_shape(), 5);
  model->train();
  at::manual_seed(6);
  const at::Tensor x = images(mnist_shape(), 16);
  const at::Tensor y = at::randint(0, 10, {16}, at::kLong);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    adam.zero_grad();
    const at::Tensor ce = at::cross_entropy_loss(model->forward(x), y);
    const at::Tensor loss = ce + model->aux_loss();
    loss.backward();
    adam.step();
    if (step == 0) first = ce.item<double>();
    last = ce.item<double>();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

TEST(ViTImageLevelTest, EvaluationLeavesCentroidsBitwiseUnchanged) {
  auto model = build(small_config(), mnist_shape(), 7);
  std::vector<at::Tensor> before;
  for (const auto& b : model->buffers()) before.push_back(b.clone());
  model->eval();
  model->forward(images(mnist_shape(), 8));
  std::size_t i = 0;
  for (const auto& b : model->buffers()) EXPECT_TRUE(at::equal(b, before[i++]));
  // A training forward moves them.
  model->train();
  model->forward(images(mnist_shape(), 8));
  i = 0;
  for (const auto& b : model->buffers()) EXPECT_FALSE(at::equal(b, before[i++]));
}

TEST(ViTImageLevelTest, OnEpochStartAnnealsTemperatureAndKlWeightLinearly) {
  config::ModelConfig c = small_config();
  c.moe_layer_indices = {0, 1};
  c.temperature_start = 1.0;
  c.temperature_end = 0.1;
  c.kl_balance_weight_start = 1.0;
  c.kl_balance_weight_end = 0.2;
  c.anneal_epochs = 4;
  auto model = build(c, mnist_shape());
  EXPECT_DOUBLE_EQ(model->temperature(), 1.0);  // before any epoch: the start values
  for (int64_t epoch = 0; epoch < 7; ++epoch) {
    model->on_epoch_start(0, epoch);
    const double s = std::min<double>(epoch, 4) / 4.0;
    EXPECT_NEAR(model->temperature(), 1.0 + (0.1 - 1.0) * s, 1e-12) << epoch;
    EXPECT_NEAR(model->kl_balance_weight(), 1.0 + (0.2 - 1.0) * s, 1e-12) << epoch;
    for (const auto& layer : model->moe_mlps) {
      EXPECT_NEAR(layer->router->temperature(), model->temperature(), 1e-12);
      EXPECT_NEAR(layer->kl_balance_weight(), model->kl_balance_weight(), 1e-12);
    }
  }
  // A new domain starts the schedule again.
  model->on_epoch_start(1, 0);
  EXPECT_DOUBLE_EQ(model->temperature(), 1.0);
  model->on_epoch_start(1, 2);
  EXPECT_NEAR(model->temperature(), 0.55, 1e-12);
}

TEST(ViTImageLevelTest, ForcedExpertTakesEveryImage) {
  auto model = build(small_config(), mnist_shape());
  model->eval();
  model->force_expert("blocks.1.moe", 2);
  model->forward(images(mnist_shape(), 5));
  EXPECT_EQ(model->expert_usage(false).at(0).counts, (std::vector<int64_t>{0, 0, 5}));
}

TEST(ViTImageLevelTest, BadOptionsThrow) {
  config::ModelConfig c = small_config();
  c.moe_layer_indices = {2};
  EXPECT_THROW(build(c, mnist_shape()), c10::Error);
  EXPECT_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).alpha_fast(-0.1)), c10::Error);
  EXPECT_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).alpha_slow(1.1)), c10::Error);
  EXPECT_NO_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).alpha_fast(0.0)));
  EXPECT_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).temperature(0.0)), c10::Error);
}

}  // namespace
}  // namespace moedil::model
