#include "moedil/model/switch_vit.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/optim/adam.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kDim = 8;
constexpr int64_t kHeads = 2;
constexpr int64_t kDepth = 3;
constexpr int64_t kExpertDepth = 2;
constexpr int64_t kHidden = 16;  // mlp_ratio 2 * kDim
constexpr int64_t kExperts = 3;

config::ModelConfig small_config() {
  config::ModelConfig c;
  c.name = "switch_moe_vit";
  c.patch_size = 7;
  c.embed_dim = kDim;
  c.depth = kDepth;
  c.num_heads = kHeads;
  c.mlp_ratio = 2.0;
  c.dropout = 0.0;
  c.moe_num_unshared_experts = kExperts;
  c.expert_depth = kExpertDepth;
  return c;
}

std::shared_ptr<SwitchViTImpl> build(const config::ModelConfig& c, const InputShape& in,
                                     uint64_t seed = 0) {
  at::manual_seed(seed);
  auto model = std::dynamic_pointer_cast<SwitchViTImpl>(make_model(c, in));
  EXPECT_NE(model, nullptr);
  return model;
}

bool is_shared(const std::string& name) { return name.rfind("experts.", 0) != 0; }

/// Expert index of a parameter named "experts.<e>.…".
int64_t expert_of(const std::string& name) { return std::stoll(name.substr(8)); }

TEST(SwitchViTTest, OutputShapesForGrayAndColourInputs) {
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
  EXPECT_EQ(colour->blocks->size(), static_cast<std::size_t>(kDepth - kExpertDepth));
  EXPECT_EQ(colour->prototypes.sizes().vec(), (std::vector<int64_t>{kExperts, 2 * kDim}));
  EXPECT_EQ(colour->moe_layer_names(), (std::vector<std::string>{"experts"}));
}

TEST(SwitchViTTest, ParameterCountMatchesAHandCount) {
  auto model = build(small_config(), mnist_shape());
  const int64_t d = kDim, h = kHidden, patches = 16, classes = 10;
  const int64_t embed = 1 * 7 * 7 * d + d + d /*cls*/ + (patches + 1) * d;
  const int64_t block = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * h + h) +
                        (h * d + d);
  const int64_t expert = kExpertDepth * block + 2 * d + d * classes + classes;
  const int64_t shared = embed + (kDepth - kExpertDepth) * block;
  EXPECT_EQ(count_parameters(*model), shared + kExperts * expert);
  EXPECT_EQ(count_parameters(*model, /*trainable_only=*/true), shared + kExperts * expert);
  // No learnable router; the prototypes are a buffer.
  for (const auto& p : model->named_parameters()) {
    EXPECT_EQ(p.key().find("router."), std::string::npos) << p.key();
  }
  std::vector<std::string> buffers;
  for (const auto& b : model->named_buffers()) buffers.push_back(b.key());
  EXPECT_EQ(buffers, (std::vector<std::string>{"prototypes", "prototypes_ready"}));

  config::ModelConfig frozen = small_config();
  frozen.freeze_shared = true;
  auto f = build(frozen, mnist_shape());
  EXPECT_EQ(count_parameters(*f), shared + kExperts * expert);
  EXPECT_EQ(count_parameters(*f, /*trainable_only=*/true), kExperts * expert);
}

/// Gradients after one CE backward on a training forward of 24 images.
void check_gradients(bool freeze_shared) {
  config::ModelConfig c = small_config();
  c.freeze_shared = freeze_shared;
  auto model = build(c, mnist_shape(), 2);
  model->train();
  at::manual_seed(3);
  const at::Tensor x = images(mnist_shape(), 24);
  const at::Tensor y = at::randint(0, 10, {24}, at::kLong);
  at::cross_entropy_loss(model->forward(x), y).backward();
  const std::vector<int64_t> usage = model->expert_usage(true).at(0).counts;
  int64_t total = 0;
  for (int64_t u : usage) total += u;
  EXPECT_EQ(total, 24);
  int64_t checked_shared = 0;
  for (const auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    const at::Tensor& g = p.value().grad();
    const bool has_grad = g.defined() && g.abs().sum().item<double>() > 0;
    if (is_shared(name)) {
      ++checked_shared;
      EXPECT_EQ(has_grad, !freeze_shared) << name;
      EXPECT_EQ(p.value().requires_grad(), !freeze_shared) << name;
    } else {
      // An expert learns iff it received images.
      EXPECT_EQ(has_grad, usage[expert_of(name)] > 0) << name;
    }
  }
  // patch_embed (2), cls, pos, one shared block (norm1 2, qkv 2, proj 2, norm2 2, mlp 4).
  EXPECT_EQ(checked_shared, 2 + 1 + 1 + 12);
}

TEST(SwitchViTTest, GradientsReachSharedPartsAndTheUsedExperts) { check_gradients(false); }

TEST(SwitchViTTest, FrozenSharedPartsGetNoGradient) { check_gradients(true); }

TEST(SwitchViTTest, AdamStepsLowerTheLossOnAFixedBatch) {
  auto model = build(small_config(), mnist_shape(), 5);
  model->train();
  at::manual_seed(6);
  const at::Tensor x = images(mnist_shape(), 16);
  const at::Tensor y = at::randint(0, 10, {16}, at::kLong);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    adam.zero_grad();
    const at::Tensor loss = at::cross_entropy_loss(model->forward(x), y);
    loss.backward();
    adam.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
  EXPECT_FALSE(model->aux_loss().defined());
}

TEST(SwitchViTTest, PrototypesMoveOnlyInTrainingByTheKeepRateTowardTheFeature) {
  config::ModelConfig c = small_config();
  c.ema_alpha = 0.75;  // keep rate: p <- 0.75 p + 0.25 f
  auto model = build(c, mnist_shape(), 7);
  const at::Tensor x = images(mnist_shape(), 1);
  const at::Tensor before = model->prototypes.clone();
  model->eval();
  model->forward(x);
  EXPECT_TRUE(at::equal(model->prototypes, before));

  model->train();
  model->prototypes_ready.fill_(1);  // keep the random start: this test is about the EMA
  at::Tensor feature;
  {
    at::NoGradGuard no_grad;
    const at::Tensor tokens = model->shared_tokens(x);  // [1, 17, D]
    // By hand: mean and population std over the 16 patch tokens, CLS excluded.
    const at::Tensor patches = tokens[0].slice(0, 1);
    const at::Tensor mean = patches.sum(0) / 16.0;
    const at::Tensor std = ((patches - mean).pow(2).sum(0) / 16.0).sqrt();
    feature = at::cat({mean, std});  // [2D]
  }
  // The winner: the largest 0.3 cos(mean, P_mean) + 0.7 cos(std, P_std) (routing_alpha 0.3).
  const int64_t d = feature.size(0) / 2;
  const auto cos = [](const at::Tensor& p, const at::Tensor& v) {
    return at::matmul(p, v) / (p.norm(2, {1}) * v.norm());
  };
  const at::Tensor score = 0.3 * cos(before.slice(1, 0, d), feature.slice(0, 0, d)) +
                           0.7 * cos(before.slice(1, d), feature.slice(0, d));
  const int64_t winner = score.argmax().item<int64_t>();
  model->forward(x);
  for (int64_t e = 0; e < kExperts; ++e) {
    if (e == winner) {
      EXPECT_TRUE(at::allclose(model->prototypes[e], 0.75 * before[e] + 0.25 * feature, 1e-5,
                               1e-6));
    } else {
      EXPECT_TRUE(at::equal(model->prototypes[e], before[e])) << e;
    }
  }
  EXPECT_EQ(model->expert_usage(true).at(0).counts[winner], 1);
}

TEST(SwitchViTTest, FirstTrainingForwardSetsPrototypesFromTheBatchFarthestFirst) {
  auto model = build(small_config(), mnist_shape(), 9);
  const at::Tensor x = images(mnist_shape(), 8);
  const at::Tensor random_start = model->prototypes.clone();
  model->eval();
  model->forward(x);
  EXPECT_TRUE(at::equal(model->prototypes, random_start)) << "evaluation sets nothing";
  EXPECT_EQ(model->prototypes_ready.item<int64_t>(), 0);

  at::Tensor f;
  at::Tensor feature;
  {
    at::NoGradGuard no_grad;
    feature = SwitchViTImpl::routing_feature(model->shared_tokens(x));
    f = feature / feature.norm(2, {1}, /*keepdim=*/true);  // [8, 2D] unit rows
  }
  // Farthest-first by hand: row 0, then the row whose largest similarity to the picked is least.
  std::vector<int64_t> picked{0};
  while (static_cast<int64_t>(picked.size()) < kExperts) {
    int64_t best = -1;
    double best_sim = 2.0;
    for (int64_t r = 0; r < 8; ++r) {
      double sim = -2.0;
      for (int64_t q : picked) sim = std::max(sim, at::dot(f[r], f[q]).item<double>());
      if (sim < best_sim) {
        best_sim = sim;
        best = r;
      }
    }
    picked.push_back(best);
  }
  model->train();
  model->prototypes_ready.fill_(0);
  SwitchViTImpl& m = *model;
  m.init_prototypes(feature);
  // Chosen by cosine, stored as the features themselves (the scale the EMA moves them in).
  for (int64_t e = 0; e < kExperts; ++e) {
    EXPECT_TRUE(at::allclose(m.prototypes[e], feature[picked[static_cast<std::size_t>(e)]], 1e-5,
                             1e-6))
        << e;
  }
  EXPECT_EQ(m.prototypes_ready.item<int64_t>(), 1);
  // The first training forward of a fresh model does the same, and then routes on them: each
  // picked image goes to its own expert, so more than one expert is used.
  auto fresh = build(small_config(), mnist_shape(), 9);
  fresh->train();
  fresh->forward(x);
  EXPECT_EQ(fresh->prototypes_ready.item<int64_t>(), 1);
  const std::vector<int64_t> counts = fresh->expert_usage(true).at(0).counts;
  EXPECT_GT(std::count_if(counts.begin(), counts.end(), [](int64_t c) { return c > 0; }), 1);
}

// The predecessor's prototype_init_dataset: prototype d is the mean routing feature of domain
// d's images; with fewer domains than experts the others keep their start, and no training
// batch replaces them afterwards.
TEST(SwitchViTTest, PrototypesFromDomainsAreTheMeanFeaturesOfEachDomainsImages) {
  auto model = build(small_config(), mnist_shape(), 4);
  const at::Tensor x = images(mnist_shape(), 6);
  const at::Tensor domains = at::tensor({1, 0, 1, 0, 0, 1}, at::kLong);
  const at::Tensor start = model->prototypes.clone();
  model->train();  // computed without dropout and left in the mode it was in
  EXPECT_EQ(model->init_prototypes_from_domains(x, domains), 2);
  EXPECT_TRUE(model->is_training());
  at::Tensor feature;
  {
    at::NoGradGuard no_grad;
    model->eval();
    feature = SwitchViTImpl::routing_feature(model->shared_tokens(x));
    model->train();
  }
  const at::Tensor domain0 = (feature[1] + feature[3] + feature[4]) / 3;
  const at::Tensor domain1 = (feature[0] + feature[2] + feature[5]) / 3;
  EXPECT_TRUE(at::allclose(model->prototypes[0], domain0, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(model->prototypes[1], domain1, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(model->prototypes[2], start[2]));  // 3 experts, 2 domains
  EXPECT_EQ(model->prototypes_ready.item<int64_t>(), 1);
  // A training forward moves the winners by the EMA, but does not set them from its batch.
  model->options.ema_alpha(1.0);
  const at::Tensor before = model->prototypes.clone();
  model->forward(x);
  EXPECT_TRUE(at::equal(model->prototypes, before));
}

// Both scores (the predecessor's weighted halves and the concatenated cosine, routing_alpha
// null) pick a prototype that is the image's own feature, whatever its scale.
TEST(SwitchViTTest, RoutingPicksTheNearestPrototype) {
  for (const double routing_alpha : {0.3, -1.0}) {
  SCOPED_TRACE(routing_alpha);
  config::ModelConfig c = small_config();
  c.routing_alpha = routing_alpha;
  auto model = build(c, mnist_shape(), 8);
  model->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = images(mnist_shape(), 3);
  const at::Tensor tokens = model->shared_tokens(x);
  const at::Tensor feature = SwitchViTImpl::routing_feature(tokens);  // [3, 2D]
  // Prototype of expert 1 = image 0's feature, expert 2 = image 1's, expert 0 = image 2's.
  model->prototypes.copy_(at::stack({feature[2] * 3.0, feature[0], feature[1] * 0.5}));
  // Cosine ignores the scale of a prototype: each image's own feature is its nearest one.
  const moe::Routing r = model->route(feature);
  const std::vector<int64_t> expected{1, 2, 0};
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_EQ(r.expert_idx[b][0].item<int64_t>(), expected[b]) << b;
    EXPECT_EQ(r.gates[b][0].item<double>(), 1.0);  // hard routing
    EXPECT_NEAR(r.logits[b][expected[b]].item<double>(), 1.0, 1e-5);
  }
  // The forward sends each image through that expert's tower alone, gate 1.
  const at::Tensor out = model->forward(x);
  for (int64_t b = 0; b < 3; ++b) {
    const at::Tensor own = model->experts[expected[b]]->as<SwitchExpert>()->forward(
        tokens.slice(0, b, b + 1));
    EXPECT_TRUE(at::allclose(out[b], own[0], 1e-5, 1e-6)) << b;
  }
  EXPECT_EQ(model->expert_usage(false).at(0).counts, (std::vector<int64_t>{1, 1, 1}));
  }
}

// routing_alpha weighs the two halves as the predecessor did: score_e = a cos(m, P_mean_e) +
// (1 - a) cos(s, P_std_e). Prototype 0 agrees with the image's mean and opposes its std,
// prototype 1 the other way round, prototype 2 opposes both.
TEST(SwitchViTTest, RoutingAlphaWeighsTheMeanAndStdHalves) {
  for (const auto& [alpha, winner] :
       std::vector<std::pair<double, int64_t>>{{1.0, 0}, {0.0, 1}, {0.3, 1}, {0.8, 0}}) {
    SCOPED_TRACE(alpha);
    config::ModelConfig c = small_config();
    c.routing_alpha = alpha;
    auto model = build(c, mnist_shape(), 8);
    model->eval();
    at::NoGradGuard no_grad;
    const at::Tensor feature =
        SwitchViTImpl::routing_feature(model->shared_tokens(images(mnist_shape(), 1)));
    const int64_t d = feature.size(1) / 2;
    const at::Tensor m = feature[0].slice(0, 0, d);
    const at::Tensor s = feature[0].slice(0, d);
    model->prototypes.copy_(
        at::stack({at::cat({m, -s}), at::cat({-m, s}), at::cat({-m, -s})}));
    const moe::Routing r = model->route(feature);
    EXPECT_EQ(r.expert_idx[0][0].item<int64_t>(), winner);
    EXPECT_NEAR(r.logits[0][0].item<double>(), alpha - (1 - alpha), 1e-5);
    EXPECT_NEAR(r.logits[0][1].item<double>(), (1 - alpha) - alpha, 1e-5);
    EXPECT_NEAR(r.logits[0][2].item<double>(), -1.0, 1e-5);
  }
}

TEST(SwitchViTTest, ForcedExpertRoutesEveryImageToIt) {
  auto model = build(small_config(), mnist_shape(), 9);
  model->eval();
  model->force_expert("experts", 2);
  at::NoGradGuard no_grad;
  const at::Tensor x = images(mnist_shape(), 5);
  const at::Tensor out = model->forward(x);
  EXPECT_EQ(model->expert_usage(false).at(0).counts, (std::vector<int64_t>{0, 0, 5}));
  // Every row is expert 2's logits, scaled by the forced gate (a positive number).
  const at::Tensor own = model->experts[2]->as<SwitchExpert>()->forward(model->shared_tokens(x));
  const at::Tensor scale = (out * own).sum(1) / (own * own).sum(1);  // [5]
  EXPECT_TRUE(at::allclose(out, own * scale.unsqueeze(1), 1e-4, 1e-5));
  EXPECT_TRUE((scale > 0).all().item<bool>());
  // -1 restores routing.
  model->force_expert("experts", -1);
  model->reset_expert_usage(false);
  model->forward(x);
  const std::vector<int64_t> usage = model->expert_usage(false).at(0).counts;
  int64_t total = 0;
  for (int64_t u : usage) total += u;
  EXPECT_EQ(total, 5);
}

TEST(SwitchViTTest, BadOptionsThrow) {
  EXPECT_THROW(
      SwitchViT(SwitchViTOptions(ViTBackboneOptions(mnist_shape()).depth(2)).expert_depth(2)),
      c10::Error);
  EXPECT_THROW(SwitchViT(SwitchViTOptions(ViTBackboneOptions(mnist_shape())).routing_alpha(1.5)),
               c10::Error);
  EXPECT_THROW(SwitchViT(SwitchViTOptions(ViTBackboneOptions(mnist_shape())).ema_alpha(-0.5)),
               c10::Error);
  // make_model checks the family's rules (config/model_families.cpp) like validation does.
  config::ModelConfig c = small_config();
  c.expert_depth = kDepth;
  try {
    build(c, mnist_shape());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.expert_depth: " + std::to_string(kDepth) +
                  " leaves no shared block: switch_moe_vit needs model.expert_depth < "
                  "model.depth (" + std::to_string(kDepth) + ")");
  }
}

}  // namespace
}  // namespace moedil::model
