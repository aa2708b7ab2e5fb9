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
  c.name = "vit_moe_imagelevel";
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

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

std::vector<double> unit(std::vector<double> v) {
  double n = 0;
  for (double x : v) n += x * x;
  for (double& x : v) x /= std::sqrt(n);
  return v;
}

std::vector<double> softmax(const std::vector<double>& z) {
  const double m = *std::max_element(z.begin(), z.end());
  std::vector<double> p;
  double s = 0;
  for (double x : z) s += std::exp(x - m);
  for (double x : z) p.push_back(std::exp(x - m) / s);
  return p;
}

at::Tensor tensor_of(const std::vector<std::vector<double>>& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat).reshape({static_cast<int64_t>(rows.size()), -1});
}

// The hand example: 2-d embeddings, 3 experts, identity projection.
//   pooled a = [2, 0] -> e = [1, 0]            nearest fast centroid 0
//   pooled b = [3, 1] -> e = [3, 1] / sqrt(10) nearest fast centroid 0
//   pooled c = [1, 4] -> e = [1, 4] / sqrt(17) nearest fast centroid 1
// Expert 2's centroid points away from all of them and gets nothing.
const std::vector<std::vector<double>> kPooled{{2, 0}, {3, 1}, {1, 4}};
const std::vector<std::vector<double>> kFast{{1, 0}, {0, 1}, {-0.6, -0.8}};
const std::vector<std::vector<double>> kSlow{{0.6, 0.8}, {0.8, -0.6}, {-1, 0}};
const std::vector<int> kExpected{0, 0, 1};

moe::CentroidRouter hand_router(double temperature) {
  moe::CentroidRouter router(
      moe::CentroidRouterOptions(2, 3).alpha_fast(0.1).alpha_slow(0.01).temperature(temperature));
  at::NoGradGuard no_grad;
  router->proj->weight.copy_(at::eye(2));
  router->proj->bias.zero_();
  router->fast_centroids.copy_(tensor_of(kFast));
  router->slow_centroids.copy_(tensor_of(kSlow));
  return router;
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

TEST(CentroidRouterTest, RoutesToTheMostSimilarFastCentroid) {
  auto router = hand_router(0.5);
  router->eval();
  const moe::Routing r = router->forward(tensor_of(kPooled));
  ASSERT_EQ(r.expert_idx.sizes().vec(), (std::vector<int64_t>{3, 1}));
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(r.expert_idx[b][0].item<int64_t>(), kExpected[b]);
    // logits = cos / T; gate = the winner's probability.
    std::vector<double> z;
    for (const auto& c : kFast) z.push_back(cosine(kPooled[b], c) / 0.5);
    const std::vector<double> p = softmax(z);
    for (int e = 0; e < 3; ++e) {
      EXPECT_NEAR(r.logits[b][e].item<double>(), z[e], 1e-5);
      EXPECT_NEAR(r.probs[b][e].item<double>(), p[e], 1e-5);
    }
    EXPECT_NEAR(r.gates[b][0].item<double>(), p[kExpected[b]], 1e-5);
  }
}

TEST(CentroidRouterTest, TrainingMovesCentroidsByTheEmaFormulaEvaluationNot) {
  auto router = hand_router(1.0);
  router->eval();
  router->forward(tensor_of(kPooled));
  EXPECT_TRUE(at::equal(router->fast_centroids, tensor_of(kFast)));
  EXPECT_TRUE(at::equal(router->slow_centroids, tensor_of(kSlow)));

  router->train();
  router->forward(tensor_of(kPooled));
  // Expert 0 got a and b, expert 1 got c, expert 2 nothing.
  const std::vector<double> ea = unit(kPooled[0]), eb = unit(kPooled[1]), ec = unit(kPooled[2]);
  const std::vector<double> m0{(ea[0] + eb[0]) / 2, (ea[1] + eb[1]) / 2};
  const std::vector<std::vector<double>> means{m0, ec};
  for (int e = 0; e < 2; ++e) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(router->fast_centroids[e][k].item<double>(),
                  0.9 * kFast[e][k] + 0.1 * means[e][k], 1e-6);
      EXPECT_NEAR(router->slow_centroids[e][k].item<double>(),
                  0.99 * kSlow[e][k] + 0.01 * means[e][k], 1e-6);
    }
  }
  EXPECT_TRUE(at::equal(router->fast_centroids[2], tensor_of(kFast)[2]));
  EXPECT_TRUE(at::equal(router->slow_centroids[2], tensor_of(kSlow)[2]));
  EXPECT_FALSE(router->fast_centroids.requires_grad());
}

TEST(CentroidRouterTest, EachAuxiliaryLossMatchesAHandComputation) {
  const double t = 0.5;
  auto router = hand_router(t);
  router->train();
  router->forward(tensor_of(kPooled));
  const moe::CentroidLosses& l = router->losses();
  std::vector<std::vector<double>> emb;
  for (const auto& p : kPooled) emb.push_back(unit(p));
  // repulsion: cosine between expert 0's mean embedding and expert 1's (the only pair used)
  const std::vector<double> m0{(emb[0][0] + emb[1][0]) / 2, (emb[0][1] + emb[1][1]) / 2};
  EXPECT_NEAR(l.repulsion.item<double>(), cosine(m0, emb[2]), 1e-5);
  // alignment: mean of 1 - cos(e, fast centroid of its expert)
  double alignment = 0;
  for (int b = 0; b < 3; ++b) alignment += (1 - cosine(emb[b], kFast[kExpected[b]])) / 3;
  EXPECT_NEAR(l.alignment.item<double>(), alignment, 1e-5);
  // consistency: mean KL(p_slow || p_fast); balance: KL(mean p_fast || uniform)
  double consistency = 0;
  std::vector<double> mean_fast(3, 0.0);
  for (int b = 0; b < 3; ++b) {
    std::vector<double> zf, zs;
    for (int e = 0; e < 3; ++e) {
      zf.push_back(cosine(emb[b], kFast[e]) / t);
      zs.push_back(cosine(emb[b], kSlow[e]) / t);
    }
    const auto pf = softmax(zf), ps = softmax(zs);
    for (int e = 0; e < 3; ++e) {
      consistency += ps[e] * std::log(ps[e] / pf[e]) / 3;
      mean_fast[e] += pf[e] / 3;
    }
  }
  EXPECT_NEAR(l.consistency.item<double>(), consistency, 1e-5);
  double balance = 0;
  for (double p : mean_fast) balance += p * std::log(3 * p);
  EXPECT_NEAR(l.balance.item<double>(), balance, 1e-5);
  EXPECT_GT(balance, 0.0);
  // With all images on one expert there is no pair to repel.
  auto single = hand_router(t);
  single->train();
  single->forward(tensor_of({{2, 0}, {3, 1}}));
  EXPECT_EQ(single->losses().repulsion.item<double>(), 0.0);
  // Evaluation keeps no losses.
  single->eval();
  single->forward(tensor_of(kPooled));
  EXPECT_FALSE(single->losses().alignment.defined());
}

TEST(ImageLevelMoeTest, CentroidLossIsTheWeightedSumWithTheScheduledKlWeight) {
  ImageLevelMoe layer(ImageLevelMoeOptions(2, 4, 3)
                          .repulsion_weight(0.2)
                          .alignment_weight(0.3)
                          .consistency_weight(0.4)
                          .balance_losses({}));
  {
    at::NoGradGuard no_grad;
    layer->router->proj->weight.copy_(at::eye(2));
    layer->router->proj->bias.zero_();
    layer->router->fast_centroids.copy_(tensor_of(kFast));
    layer->router->slow_centroids.copy_(tensor_of(kSlow));
  }
  layer->set_schedule(0.5, 0.7);
  layer->train();
  // One token per image: its mean is the pooled row of the hand example.
  const at::Tensor out = layer->forward(tensor_of(kPooled).unsqueeze(1));
  EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{3, 1, 2}));
  const moe::CentroidLosses& l = layer->router->losses();
  EXPECT_DOUBLE_EQ(layer->router->temperature(), 0.5);
  const double expected = 0.2 * l.repulsion.item<double>() + 0.3 * l.alignment.item<double>() +
                          0.4 * l.consistency.item<double>() + 0.7 * l.balance.item<double>();
  EXPECT_NEAR(layer->centroid_loss().item<double>(), expected, 1e-6);
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{2, 1, 0}));
}

TEST(ImageLevelMoeTest, CapacityDropsOverflowImages) {
  // Capacity ceil(1 * 3 images * 1 / 3 experts) = 1: expert 0 is chosen by two images, keeps one.
  ImageLevelMoe layer(ImageLevelMoeOptions(2, 4, 3).capacity_factor(1.0).balance_losses({}));
  {
    at::NoGradGuard no_grad;
    layer->router->proj->weight.copy_(at::eye(2));
    layer->router->proj->bias.zero_();
    layer->router->fast_centroids.copy_(tensor_of(kFast));
  }
  layer->train();
  const at::Tensor out = layer->forward(tensor_of(kPooled).unsqueeze(1));
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_NEAR(layer->mixture.dropped_fraction(true), 1.0 / 3.0, 1e-12);
  int64_t zero_rows = 0;
  for (int64_t b = 0; b < 3; ++b) zero_rows += out[b].abs().sum().item<double>() == 0.0;
  EXPECT_EQ(zero_rows, 1);
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
  EXPECT_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).alpha_fast(0.0)), c10::Error);
  EXPECT_THROW(moe::CentroidRouter(moe::CentroidRouterOptions(2, 3).temperature(0.0)), c10::Error);
}

}  // namespace
}  // namespace moedil::model
