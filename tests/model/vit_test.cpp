#include "moedil/model/vit.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kDim = 16;
constexpr int64_t kHeads = 2;
constexpr int64_t kDepth = 4;
constexpr int64_t kHidden = 32;  // mlp_ratio 2 * kDim
constexpr int64_t kExperts = 3;

config::ModelConfig small_config(const std::string& name) {
  config::ModelConfig c;
  c.name = name;
  c.patch_size = 7;
  c.embed_dim = kDim;
  c.depth = kDepth;
  c.num_heads = kHeads;
  c.mlp_ratio = 2.0;
  c.dropout = 0.0;
  c.moe_layer_indices = {1, 3};
  c.moe_num_unshared_experts = kExperts;
  c.moe_num_shared_experts = 0;
  c.moe_top_k = 1;
  c.moe_routing_granularity = "sample";
  c.moe_route_with_cls_token = true;
  c.moe_gate = "probability";               // Switch's gate and balance loss here; the
  c.moe_balance_losses = {{"switch", 1.0}};  //   predecessor's defaults: config tests
  return c;
}

std::shared_ptr<ViTImpl> as_vit(const Classifier& model) {
  auto vit = std::dynamic_pointer_cast<ViTImpl>(model);
  EXPECT_NE(vit, nullptr);
  return vit;
}

// The predecessor's moe_route_with_cls_token false: no CLS token, positions for the patches,
// the head on the mean of the final (normalised) tokens; vit_moe then routes every token or, per
// image, on the token mean.
TEST(ViTTest, WithoutClsTokenTheHeadReadsTheTokenMean) {
  for (const char* name : {"vit", "vit_moe"}) {
    SCOPED_TRACE(name);
    config::ModelConfig c = small_config(name);
    c.moe_route_with_cls_token = false;
    c.moe_route_on = "mean";
    auto vit = as_vit(build(c, mnist_shape(), 4));
    EXPECT_FALSE(vit->stem.cls_token.defined());
    EXPECT_EQ(vit->stem.pos_embed.sizes().vec(), (std::vector<int64_t>{1, 16, kDim}));
    for (const auto& p : vit->named_parameters()) EXPECT_NE(p.key(), "cls_token");
    vit->eval();
    at::manual_seed(5);
    const at::Tensor x = images(mnist_shape(), 3);
    at::Tensor tokens = vit->stem.embed(x);
    EXPECT_EQ(tokens.size(1), 16);
    for (const auto& block : *vit->blocks) tokens = block->as<TransformerBlock>()->forward(tokens);
    const at::Tensor want = vit->head(vit->norm(tokens).mean(1));
    EXPECT_TRUE(at::allclose(vit->forward(x), want, 1e-5, 1e-6));
    // Its parameter count has no CLS token and one position fewer.
    config::ModelConfig with = small_config(name);
    EXPECT_EQ(count_parameters(*build(with, mnist_shape(), 4)) - count_parameters(*vit),
              2 * kDim);
  }
  config::ModelConfig bad = small_config("vit_moe");
  bad.moe_route_with_cls_token = false;
  bad.moe_route_on = "cls";
  EXPECT_THROW(build(bad, mnist_shape(), 4), std::exception);
}

TEST(ViTTest, OutputShapeForGrayAndColourInputs) {
  at::manual_seed(1);
  ViT gray(ViTOptions(
      ViTBackboneOptions(mnist_shape()).patch_size(7).embed_dim(kDim).depth(2).num_heads(kHeads)));
  const at::Tensor g = gray->forward(images(mnist_shape(), 2));
  EXPECT_EQ(g.sizes().vec(), (std::vector<int64_t>{2, 10}));
  EXPECT_TRUE(at::isfinite(g).all().item<bool>());

  ViT colour(ViTOptions(
      ViTBackboneOptions(cifar_shape()).patch_size(8).embed_dim(kDim).depth(2).num_heads(kHeads)));
  const at::Tensor c = colour->forward(images(cifar_shape(), 3));
  EXPECT_EQ(c.sizes().vec(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(at::isfinite(c).all().item<bool>());
  // 16 patches of 8x8 + CLS.
  EXPECT_EQ(colour->stem.pos_embed.sizes().vec(), (std::vector<int64_t>{1, 17, kDim}));

  for (const std::string name : {"vit", "vit_moe"}) {
    SCOPED_TRACE(name);
    auto c28 = small_config(name);
    EXPECT_EQ(build(c28, mnist_shape())->forward(images(mnist_shape(), 4)).sizes().vec(),
              (std::vector<int64_t>{4, 10}));
    auto c32 = small_config(name);
    c32.patch_size = 8;
    EXPECT_EQ(build(c32, cifar_shape())->forward(images(cifar_shape(), 2)).sizes().vec(),
              (std::vector<int64_t>{2, 5}));
  }
}

TEST(ViTTest, VitMoeHasMoeLayersAtConfiguredBlocks) {
  const Classifier model = build(small_config("vit_moe"), mnist_shape(), 2);
  const auto vit = as_vit(model);
  ASSERT_NE(vit, nullptr);
  ASSERT_EQ(vit->blocks->size(), static_cast<std::size_t>(kDepth));
  for (int64_t i = 0; i < kDepth; ++i) {
    const auto block = vit->blocks[static_cast<std::size_t>(i)]->as<TransformerBlock>();
    const bool want_moe = i == 1 || i == 3;
    EXPECT_EQ(static_cast<bool>(block->moe), want_moe) << "block " << i;
    EXPECT_EQ(static_cast<bool>(block->mlp), !want_moe) << "block " << i;
    if (want_moe) {
      EXPECT_EQ(block->moe->experts->size(), static_cast<std::size_t>(kExperts));
      EXPECT_EQ(block->moe->options.dim(), kDim);
      EXPECT_EQ(block->moe->options.hidden(), kHidden);
      EXPECT_EQ(block->moe->options.granularity(), "sample");
    }
  }
  const auto params = model->named_parameters();
  EXPECT_TRUE(params.contains("blocks.1.moe.router.gate.weight"));
  EXPECT_TRUE(params.contains("blocks.3.moe.experts.2.fc1.weight"));
  EXPECT_FALSE(params.contains("blocks.0.moe.router.gate.weight"));
  EXPECT_TRUE(params.contains("blocks.0.mlp.fc1.weight"));
}

TEST(ViTTest, ExpertUsageNamesAndCountsAfterTrainingForward) {
  const int64_t batch = 3;
  const int64_t tokens = 16 + 1;  // 28x28 with 7x7 patches, plus CLS
  struct Case {
    std::string granularity;
    int64_t k;
    int64_t per_layer;
  };
  for (const Case& c : {Case{"sample", 1, batch}, Case{"sample", 2, batch * 2},
                        Case{"token", 1, batch * tokens}, Case{"token", 2, batch * tokens * 2}}) {
    SCOPED_TRACE(c.granularity + " k=" + std::to_string(c.k));
    auto cfg = small_config("vit_moe");
    cfg.moe_routing_granularity = c.granularity;
    cfg.moe_top_k = c.k;
    const Classifier model = build(cfg, mnist_shape(), 3);
    model->train();
    model->forward(images(mnist_shape(), batch));

    const std::vector<ExpertUsage> usage = model->expert_usage(true);
    ASSERT_EQ(usage.size(), 2u);
    EXPECT_EQ(usage[0].layer, "blocks.1.moe");
    EXPECT_EQ(usage[1].layer, "blocks.3.moe");
    for (const auto& u : usage) {
      EXPECT_EQ(u.counts.size(), static_cast<std::size_t>(kExperts)) << u.layer;
      EXPECT_EQ(sum_of(u.counts), c.per_layer) << u.layer;
    }
    for (const auto& u : model->expert_usage(false)) EXPECT_EQ(sum_of(u.counts), 0) << u.layer;

    // Evaluation counts are separate; resetting the training counts leaves them.
    model->eval();
    {
      at::NoGradGuard no_grad;
      model->forward(images(mnist_shape(), batch));
    }
    for (const auto& u : model->expert_usage(false)) EXPECT_EQ(sum_of(u.counts), c.per_layer);
    for (const auto& u : model->expert_usage(true)) EXPECT_EQ(sum_of(u.counts), c.per_layer);
    model->reset_expert_usage(true);
    for (const auto& u : model->expert_usage(true)) EXPECT_EQ(sum_of(u.counts), 0);
    for (const auto& u : model->expert_usage(false)) EXPECT_EQ(sum_of(u.counts), c.per_layer);
  }

  const Classifier dense = build(small_config("vit"), mnist_shape(), 3);
  dense->train();
  dense->forward(images(mnist_shape(), batch));
  EXPECT_TRUE(dense->expert_usage(true).empty());
}

TEST(ViTTest, AuxLossDefinedAfterTrainingForwardForVitMoeOnly) {
  const Classifier moe = build(small_config("vit_moe"), mnist_shape(), 4);
  EXPECT_FALSE(moe->aux_loss().defined()) << "no forward yet";
  moe->train();
  moe->forward(images(mnist_shape(), 3));
  const at::Tensor aux = moe->aux_loss();
  ASSERT_TRUE(aux.defined());
  EXPECT_TRUE(aux.requires_grad());
  // The sum of the two layers' balance losses, each in [1, E].
  const auto vit = as_vit(moe);
  ASSERT_NE(vit, nullptr);
  const at::Tensor l1 = vit->blocks[1]->as<TransformerBlock>()->moe->balance_loss();
  const at::Tensor l3 = vit->blocks[3]->as<TransformerBlock>()->moe->balance_loss();
  ASSERT_TRUE(l1.defined() && l3.defined());
  EXPECT_NEAR(aux.item<double>(), l1.item<double>() + l3.item<double>(), 1e-6);
  EXPECT_GE(aux.item<double>(), 2.0 - 1e-5);
  EXPECT_LE(aux.item<double>(), 2.0 * kExperts + 1e-5);

  moe->eval();
  {
    at::NoGradGuard no_grad;
    moe->forward(images(mnist_shape(), 3));
  }
  EXPECT_FALSE(moe->aux_loss().defined()) << "undefined after an evaluation forward";

  const Classifier dense = build(small_config("vit"), mnist_shape(), 4);
  dense->train();
  dense->forward(images(mnist_shape(), 3));
  EXPECT_FALSE(dense->aux_loss().defined());
}

TEST(ViTTest, RoutingCoreConfigKeysReachTheMoeLayersAndDroppedFractionIsReported) {
  auto cfg = small_config("vit_moe");
  cfg.moe_routing_granularity = "token";
  cfg.moe_noise_std = 0.3;
  cfg.moe_capacity_factor = 0.5;
  cfg.moe_routing = "token_choice";
  cfg.moe_expert_dropout = 0.2;
  cfg.moe_balance_losses = {{"z_loss", 0.01}, {"switch", 1.0}};
  const Classifier model = build(cfg, mnist_shape(), 5);
  const auto vit = as_vit(model);
  ASSERT_NE(vit, nullptr);
  const auto layer = vit->blocks[1]->as<TransformerBlock>()->moe;
  EXPECT_EQ(layer->options.noise_std(), 0.3);
  EXPECT_EQ(layer->options.capacity_factor(), 0.5);
  EXPECT_EQ(layer->options.routing(), "token_choice");
  EXPECT_EQ(layer->options.expert_dropout(), 0.2);
  EXPECT_EQ(layer->router->options.noise_std(), 0.3);
  EXPECT_EQ(layer->router->options.expert_dropout(), 0.2);
  EXPECT_EQ(layer->options.balance_losses(), cfg.moe_balance_losses);

  model->train();
  model->forward(images(mnist_shape(), 3));
  const auto usage = model->expert_usage(true);
  ASSERT_EQ(usage.size(), 2u);
  // 51 tokens, capacity ceil(0.5 * 51 / 3) = 9 per expert: at most 27 of 51 rows routed.
  EXPECT_GE(usage[0].dropped_fraction, 24.0 / 51.0 - 1e-12);
  EXPECT_EQ(usage[0].dropped_fraction, layer->dropped_fraction(true));
  EXPECT_LE(sum_of(usage[0].counts), 27);

  // The default config drops nothing.
  const Classifier plain = build(small_config("vit_moe"), mnist_shape(), 5);
  plain->train();
  plain->forward(images(mnist_shape(), 3));
  for (const auto& u : plain->expert_usage(true)) EXPECT_EQ(u.dropped_fraction, 0.0) << u.layer;
}

TEST(ViTTest, ParameterCountsMatchHandCount) {
  const InputShape in = mnist_shape();
  const int64_t patches = (28 / 7) * (28 / 7);
  const int64_t ff = kDim * kHidden + kHidden + kHidden * kDim + kDim;
  const int64_t block_without_mlp = 2 * kDim                         // norm1
                                    + kDim * 3 * kDim + 3 * kDim     // qkv
                                    + kDim * kDim + kDim             // proj
                                    + 2 * kDim;                      // norm2
  const int64_t stem = in.channels * 7 * 7 * kDim + kDim  // patch_embed
                       + kDim                              // cls_token
                       + (patches + 1) * kDim;             // pos_embed
  const int64_t tail = 2 * kDim + kDim * in.num_classes + in.num_classes;  // norm + head
  const int64_t dense_expected = stem + kDepth * (block_without_mlp + ff) + tail;
  const int64_t router = kDim * kExperts + kExperts;
  const int64_t moe_expected = dense_expected + 2 * (router + (kExperts - 1) * ff);

  const Classifier dense = build(small_config("vit"), in);
  const Classifier moe = build(small_config("vit_moe"), in);
  EXPECT_EQ(count_parameters(*dense), dense_expected);
  EXPECT_EQ(count_parameters(*moe), moe_expected);
  EXPECT_LT(count_parameters(*dense), count_parameters(*moe));

  // One shared expert per MoE layer adds one FeedForward per layer.
  auto shared_cfg = small_config("vit_moe");
  shared_cfg.moe_num_shared_experts = 1;
  EXPECT_EQ(count_parameters(*build(shared_cfg, in)), moe_expected + 2 * ff);

  // trainable_only skips frozen parameters.
  EXPECT_EQ(count_parameters(*dense, /*trainable_only=*/true), dense_expected);
  const auto vit = as_vit(dense);
  ASSERT_NE(vit, nullptr);
  for (auto& p : vit->head->parameters()) p.set_requires_grad(false);
  EXPECT_EQ(count_parameters(*dense, true), dense_expected - (kDim * 10 + 10));
  EXPECT_EQ(count_parameters(*dense, false), dense_expected);
}

TEST(ViTTest, PatchSizeNotDividingImageSizeThrowsConfigError) {
  for (const std::string name : {"vit", "vit_moe"}) {
    SCOPED_TRACE(name);
    auto c = small_config(name);
    c.patch_size = 5;  // 28 % 5 != 0
    try {
      make_model(c, mnist_shape());
      ADD_FAILURE() << "expected ConfigError";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("model.patch_size"), std::string::npos) << e.what();
    }
    c.patch_size = 7;  // 32 % 7 != 0
    EXPECT_THROW(make_model(c, cifar_shape()), ConfigError);
    c.patch_size = 8;  // fine for 32x32
    EXPECT_NO_THROW(make_model(c, cifar_shape()));
  }
  // Non-square input: width must be divisible too.
  auto c = small_config("vit");
  EXPECT_THROW(make_model(c, InputShape{1, 28, 30, 10}), ConfigError);
}

TEST(ViTTest, UnknownModelNameThrowsConfigErrorListingValidNames) {
  auto c = small_config("resnet");
  try {
    make_model(c, mnist_shape());
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("resnet"), std::string::npos) << what;
    EXPECT_NE(what.find("vit, "), std::string::npos) << what;
    EXPECT_NE(what.find("vit_moe"), std::string::npos) << what;
  }
  const auto names = model_registry().names();
  for (const char* family : {"vit", "vit_moe", "hetero_moe", "resnet18", "resnet18_conv_moe",
                             "resnet18_block_moe", "convnext_tiny"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), family), names.end()) << family;
  }
}

TEST(ViTTest, SameSeedGivesIdenticalWeightsAndOutputs) {
  for (const std::string name : {"vit", "vit_moe"}) {
    SCOPED_TRACE(name);
    const auto cfg = small_config(name);
    const Classifier a = build(cfg, mnist_shape(), 42);
    const Classifier b = build(cfg, mnist_shape(), 42);
    const Classifier other = build(cfg, mnist_shape(), 43);
    const auto pa = a->named_parameters();
    const auto pb = b->named_parameters();
    const auto po = other->named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    bool any_differs_from_other = false;
    for (const auto& item : pa) {
      ASSERT_TRUE(pb.contains(item.key()));
      EXPECT_TRUE(at::equal(item.value(), pb[item.key()])) << item.key();
      any_differs_from_other |= !at::equal(item.value(), po[item.key()]);
    }
    EXPECT_TRUE(any_differs_from_other) << "a different seed must give different weights";

    at::manual_seed(7);
    const at::Tensor x = images(mnist_shape(), 3);
    a->train();
    b->train();
    const at::Tensor ya = a->forward(x);
    const at::Tensor yb = b->forward(x);
    EXPECT_TRUE(at::equal(ya, yb));
    EXPECT_FALSE(at::equal(ya, other->forward(x)));
  }
}

// The head reads the CLS token alone, so the last block runs for that token only where nothing
// else changes: the same logits, balance loss, gradients and expert usage as with every token.
TEST(ViTTest, LastBlockOnTheClsTokenAloneGivesWhatEveryTokenGives) {
  struct Case {
    std::string name;
    std::string granularity;
    std::map<std::string, double> balance;
    double dropout;
    bool first_in_training;
    bool first_in_eval;
  };
  const std::map<std::string, double> with_means = {{"switch", 1.0}, {"output_variance", 1.0}};
  for (const Case& c : {Case{"vit", "sample", {{"switch", 1.0}}, 0.0, true, true},
                        Case{"vit_moe", "sample", {{"switch", 1.0}}, 0.0, true, true},
                        Case{"vit_moe", "token", {{"switch", 1.0}}, 0.0, false, false},
                        Case{"vit_moe", "sample", with_means, 0.0, false, true},
                        Case{"vit_moe", "sample", {{"switch", 1.0}}, 0.1, false, true}}) {
    SCOPED_TRACE(c.name + " " + c.granularity + " balance losses " +
                 std::to_string(c.balance.size()) + " dropout " + std::to_string(c.dropout));
    auto cfg = small_config(c.name);
    cfg.moe_routing_granularity = c.granularity;
    cfg.moe_balance_losses = c.balance;
    cfg.dropout = c.dropout;
    const Classifier a = build(cfg, mnist_shape(), 5);
    const Classifier b = build(cfg, mnist_shape(), 5);
    as_vit(b)->options.last_block_first_token_only(false);
    at::manual_seed(3);
    const at::Tensor x = images(mnist_shape(), 6);
    const at::Tensor w = at::randn({6, mnist_shape().num_classes});
    for (const bool training : {true, false}) {
      SCOPED_TRACE(training ? "training" : "evaluation");
      a->train(training);
      b->train(training);
      EXPECT_EQ(as_vit(a)->last_block_on_first_token(),
                training ? c.first_in_training : c.first_in_eval);
      EXPECT_FALSE(as_vit(b)->last_block_on_first_token());
      for (const auto& p : a->parameters()) p.mutable_grad() = at::Tensor();
      for (const auto& p : b->parameters()) p.mutable_grad() = at::Tensor();
      at::manual_seed(11);
      const at::Tensor ya = a->forward(x);
      at::manual_seed(11);
      const at::Tensor yb = b->forward(x);
      ASSERT_EQ(ya.sizes(), yb.sizes());
      EXPECT_TRUE(at::allclose(ya, yb, 1e-5, 1e-6)) << (ya - yb).abs().max().item<float>();
      if (c.name == "vit_moe") {
        for (std::size_t l = 0; l < a->expert_usage(training).size(); ++l) {
          EXPECT_EQ(a->expert_usage(training)[l].counts, b->expert_usage(training)[l].counts);
        }
      }
      if (!training) continue;
      at::Tensor la = (ya * w).sum();
      at::Tensor lb = (yb * w).sum();
      if (a->aux_loss().defined()) {
        EXPECT_TRUE(at::allclose(a->aux_loss(), b->aux_loss(), 1e-5, 1e-7));
        la = la + a->aux_loss();
        lb = lb + b->aux_loss();
      }
      la.backward();
      lb.backward();
      const auto pa = a->named_parameters();
      const auto pb = b->named_parameters();
      for (const auto& item : pa) {
        const at::Tensor& ga = item.value().grad();
        const at::Tensor& gb = pb[item.key()].grad();
        ASSERT_EQ(ga.defined(), gb.defined()) << item.key();
        if (!ga.defined()) continue;
        EXPECT_TRUE(at::allclose(ga, gb, 1e-4, 1e-6))
            << item.key() << " differs by " << (ga - gb).abs().max().item<float>();
      }
    }
  }
}

}  // namespace
}  // namespace moedil::model
