#include "moedil/model/resnet.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/model/basic_block.h"
#include "moedil/model/moe/block_moe.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kWidth = 4;
constexpr int64_t kExperts = 3;

config::ModelConfig small_config(const std::string& name) {
  config::ModelConfig c;
  c.name = name;
  c.resnet_width = kWidth;
  c.resnet_stem = "cifar";
  c.resnet_moe_stages = {3};
  c.moe_num_unshared_experts = kExperts;
  c.moe_num_shared_experts = 0;
  c.moe_top_k = 1;
  return c;
}

const std::vector<std::string> kFamilies{"resnet18", "resnet18_conv_moe", "resnet18_block_moe"};

// Hand counts: convs have no bias, a BatchNorm has 2 parameters per channel.
int64_t conv3x3_bn(int64_t in, int64_t out) { return 9 * in * out + 2 * out; }
int64_t block(int64_t in, int64_t out) {
  return conv3x3_bn(in, out) + conv3x3_bn(out, out) + (in != out ? in * out + 2 * out : 0);
}
int64_t router(int64_t in) { return in * kExperts + kExperts; }

TEST(ResNetTest, OutputShapesOnGrayAndColourImages) {
  for (const std::string& name : kFamilies) {
    for (const std::string stem : {"cifar", "imagenet"}) {
      SCOPED_TRACE(name + " " + stem);
      auto c = small_config(name);
      c.resnet_stem = stem;
      // The imagenet stem leaves 1x1 maps in layer4; block experts there are refused (below).
      if (name == "resnet18_block_moe" && stem == "imagenet") c.resnet_moe_stages = {2};
      for (const InputShape& in : {mnist_shape(), cifar_shape()}) {
        const Classifier model = build(c, in);
        // The imagenet stem leaves 1x1 maps in layer4 on these sizes: evaluation only (a
        // BatchNorm in training needs more than one value per channel).
        if (stem == "cifar")
          model->train();
        else
          model->eval();
        const at::Tensor y = model->forward(images(in, 4));
        EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{4, in.num_classes}));
        EXPECT_TRUE(at::isfinite(y).all().item<bool>());
      }
    }
  }
}

TEST(ResNetTest, BlockExpertsOnOneByOneMapsAreAConfigError) {
  auto c = small_config("resnet18_block_moe");
  c.resnet_stem = "imagenet";  // 28 -> 7 -> 4 -> 2 -> 1
  c.resnet_moe_stages = {2, 3};
  try {
    make_model(c, mnist_shape());
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.resnet_moe_stages: stage 3"), std::string::npos) << what;
    EXPECT_NE(what.find("model.resnet_stem"), std::string::npos) << what;
  }
  EXPECT_THROW(make_model(c, cifar_shape()), ConfigError);  // 32 -> 8 -> 4 -> 2 -> 1
  c.resnet_moe_stages = {2};
  EXPECT_NO_THROW(make_model(c, mnist_shape()));
  c.resnet_moe_stages = {3};
  EXPECT_NO_THROW(make_model(c, InputShape{1, 64, 64, 10}));  // 64 -> 16 -> 8 -> 4 -> 2
  // Conv experts sit before a dense BatchNorm that sees the whole batch: allowed.
  auto conv = c;
  conv.name = "resnet18_conv_moe";
  EXPECT_NO_THROW(make_model(conv, mnist_shape()));
}

TEST(ResNetTest, StagesHaveTheDocumentedWidthsAndStrides) {
  at::manual_seed(0);
  ResNet net(ResNetOptions(mnist_shape()).width(kWidth));
  ASSERT_EQ(net->stages.size(), 4u);
  for (std::size_t s = 0; s < 4; ++s) {
    const auto first = net->stages[s]->ptr(0)->as<BasicBlock>();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->options.out_channels(), kWidth << s);
    EXPECT_EQ(first->options.stride(), s == 0 ? 1 : 2);
    EXPECT_EQ(first->has_projection(), s > 0);
  }
  EXPECT_EQ(net->fc->options.in_features(), 8 * kWidth);
  EXPECT_FALSE(static_cast<bool>(net->maxpool));
  EXPECT_EQ(net->conv1->options.kernel_size()->at(0), 3);
}

TEST(ResNetTest, ParameterCountsMatchHandCount) {
  const InputShape in = mnist_shape();  // 1 channel, 10 classes
  const int64_t w = kWidth;
  const int64_t stages = block(w, w) + block(w, w) + block(w, 2 * w) + block(2 * w, 2 * w) +
                         block(2 * w, 4 * w) + block(4 * w, 4 * w) + block(4 * w, 8 * w) +
                         block(8 * w, 8 * w);
  const int64_t head = 8 * w * 10 + 10;
  const int64_t dense = 9 * 1 * w + 2 * w + stages + head;
  EXPECT_EQ(dense, 44550) << "w = 4 by hand";
  EXPECT_EQ(count_parameters(*build(small_config("resnet18"), in)), dense);

  auto imagenet = small_config("resnet18");
  imagenet.resnet_stem = "imagenet";
  EXPECT_EQ(count_parameters(*build(imagenet, in)), dense - 9 * w + 49 * w);

  // Conv MoE in layer4: its 4 convs (16->32, then 32->32 three times) become 3 experts each,
  // plus a router on the conv's input width.
  const int64_t c1 = 9 * 4 * w * 8 * w;
  const int64_t c2 = 9 * 8 * w * 8 * w;
  const int64_t conv_moe =
      dense + (kExperts - 1) * (c1 + 3 * c2) + router(4 * w) + 3 * router(8 * w);
  EXPECT_EQ(count_parameters(*build(small_config("resnet18_conv_moe"), in)), conv_moe);
  auto shared = small_config("resnet18_conv_moe");
  shared.moe_num_shared_experts = 1;
  EXPECT_EQ(count_parameters(*build(shared, in)), conv_moe + c1 + 3 * c2);

  // Block MoE in layer4: each of its 2 blocks becomes 3 blocks plus a router.
  const int64_t b0 = block(4 * w, 8 * w);
  const int64_t b1 = block(8 * w, 8 * w);
  const int64_t block_moe = dense + (kExperts - 1) * (b0 + b1) + router(4 * w) + router(8 * w);
  EXPECT_EQ(count_parameters(*build(small_config("resnet18_block_moe"), in)), block_moe);

  // Two MoE stages: layer1's blocks too.
  auto two = small_config("resnet18_block_moe");
  two.resnet_moe_stages = {0, 3};
  EXPECT_EQ(count_parameters(*build(two, in)),
            block_moe + 2 * ((kExperts - 1) * block(w, w) + router(w)));
}

TEST(ResNetTest, MoeLayersHaveTheModulePathsAsNames) {
  EXPECT_TRUE(build(small_config("resnet18"), mnist_shape())->moe_layer_names().empty());

  const Classifier conv = build(small_config("resnet18_conv_moe"), mnist_shape());
  EXPECT_EQ(conv->moe_layer_names(),
            (std::vector<std::string>{"layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1",
                                      "layer4.1.conv2"}));
  const auto p = conv->named_parameters();
  EXPECT_TRUE(p.contains("layer4.0.conv1.router.gate.weight"));
  EXPECT_TRUE(p.contains("layer4.1.conv2.experts.2.weight"));
  EXPECT_TRUE(p.contains("layer4.0.shortcut_conv.weight"));
  EXPECT_TRUE(p.contains("layer3.0.conv1.weight"));
  EXPECT_FALSE(p.contains("layer3.0.conv1.router.gate.weight"));

  const Classifier blocks = build(small_config("resnet18_block_moe"), mnist_shape());
  EXPECT_EQ(blocks->moe_layer_names(), (std::vector<std::string>{"layer4.0", "layer4.1"}));
  const auto q = blocks->named_parameters();
  EXPECT_TRUE(q.contains("layer4.0.router.gate.weight"));
  EXPECT_TRUE(q.contains("layer4.0.experts.2.conv1.weight"));
  EXPECT_TRUE(q.contains("layer4.0.experts.0.shortcut_conv.weight"));
  EXPECT_FALSE(q.contains("layer4.1.experts.0.shortcut_conv.weight"));

  auto stages = small_config("resnet18_block_moe");
  stages.resnet_moe_stages = {2, 0};
  EXPECT_EQ(build(stages, mnist_shape())->moe_layer_names(),
            (std::vector<std::string>{"layer1.0", "layer1.1", "layer3.0", "layer3.1"}))
      << "forward order, whatever the order of the stages in the config";
}

TEST(ResNetTest, UsageIsImagesTimesLayersAndTrainingApartFromEvaluation) {
  struct Case {
    std::string name;
    std::vector<int64_t> stages;
    int64_t k;
    std::size_t layers;
  };
  const int64_t batch = 5;
  for (const Case& c :
       {Case{"resnet18_conv_moe", {3}, 1, 4}, Case{"resnet18_conv_moe", {1, 3}, 2, 8},
        Case{"resnet18_block_moe", {3}, 1, 2}, Case{"resnet18_block_moe", {0, 2}, 2, 4}}) {
    SCOPED_TRACE(c.name + " k=" + std::to_string(c.k) + " layers=" + std::to_string(c.layers));
    auto cfg = small_config(c.name);
    cfg.resnet_moe_stages = c.stages;
    cfg.moe_top_k = c.k;
    const Classifier model = build(cfg, mnist_shape(), 1);
    model->train();
    model->forward(images(mnist_shape(), batch));
    const auto usage = model->expert_usage(true);
    ASSERT_EQ(usage.size(), c.layers);
    int64_t total = 0;
    for (std::size_t i = 0; i < usage.size(); ++i) {
      EXPECT_EQ(usage[i].layer, model->moe_layer_names()[i]);
      EXPECT_EQ(usage[i].counts.size(), static_cast<std::size_t>(kExperts));
      EXPECT_EQ(sum_of(usage[i].counts), batch * c.k) << usage[i].layer;
      total += sum_of(usage[i].counts);
    }
    EXPECT_EQ(total, batch * c.k * static_cast<int64_t>(c.layers));
    for (const auto& u : model->expert_usage(false)) EXPECT_EQ(sum_of(u.counts), 0) << u.layer;
    ASSERT_TRUE(model->aux_loss().defined());
    EXPECT_TRUE(model->aux_loss().requires_grad());
    model->reset_expert_usage(true);
    for (const auto& u : model->expert_usage(true)) EXPECT_EQ(sum_of(u.counts), 0) << u.layer;
  }
  const Classifier dense = build(small_config("resnet18"), mnist_shape());
  dense->train();
  dense->forward(images(mnist_shape(), batch));
  EXPECT_TRUE(dense->expert_usage(true).empty());
  EXPECT_FALSE(dense->aux_loss().defined());
}

TEST(ResNetTest, ForceExpertRoutesEveryImageOfThatLayerToIt) {
  for (const std::string name : {"resnet18_conv_moe", "resnet18_block_moe"}) {
    SCOPED_TRACE(name);
    const Classifier model = build(small_config(name), mnist_shape(), 2);
    const std::string layer = model->moe_layer_names()[0];
    model->force_expert(layer, 2);
    model->eval();
    {
      at::NoGradGuard no_grad;
      model->forward(images(mnist_shape(), 6));
    }
    const auto usage = model->expert_usage(false);
    EXPECT_EQ(usage[0].counts, (std::vector<int64_t>{0, 0, 6}));
    for (std::size_t i = 1; i < usage.size(); ++i) EXPECT_EQ(sum_of(usage[i].counts), 6);
    EXPECT_THROW(model->force_expert("layer9.0", 0), UsageError);
    EXPECT_THROW(model->force_expert(layer, kExperts), UsageError);
    model->force_expert(layer, -1);
  }
  EXPECT_THROW(build(small_config("resnet18"), mnist_shape())->force_expert("layer4.0", 0),
               UsageError);
}

TEST(ResNetTest, GradientsReachEveryParameterThatShouldLearn) {
  for (const std::string& name : kFamilies) {
    SCOPED_TRACE(name);
    auto cfg = small_config(name);
    cfg.moe_num_shared_experts = 1;
    const Classifier model = build(cfg, cifar_shape(), 3);
    model->train();
    at::manual_seed(4);
    const at::Tensor x = images(cifar_shape(), 8);
    const at::Tensor labels = at::randint(0, 5, {8}, at::kLong);
    torch::nn::functional::cross_entropy(model->forward(x), labels).backward();
    // Experts that received no image of this batch must have no gradient; everything else must.
    std::vector<std::string> idle;
    for (const auto& u : model->expert_usage(true)) {
      for (std::size_t e = 0; e < u.counts.size(); ++e) {
        if (u.counts[e] == 0) idle.push_back(u.layer + ".experts." + std::to_string(e) + ".");
      }
    }
    int64_t checked = 0;
    int64_t routers = 0;  // router weights and biases, checked like the rest
    for (const auto& item : model->named_parameters()) {
      bool is_idle = false;
      for (const auto& prefix : idle) is_idle |= item.key().rfind(prefix, 0) == 0;
      const at::Tensor& g = item.value().grad();
      const bool has_grad = g.defined() && g.abs().sum().item<double>() > 0.0;
      EXPECT_EQ(has_grad, !is_idle) << item.key();
      ++checked;
      routers += item.key().find(".router.") != std::string::npos;
    }
    EXPECT_GT(checked, 60);
    EXPECT_EQ(routers, 2 * static_cast<int64_t>(model->moe_layer_names().size()));
  }
}

TEST(ResNetTest, AdamStepsOnAFixedBatchLowerTheLoss) {
  for (const std::string& name : kFamilies) {
    SCOPED_TRACE(name);
    const Classifier model = build(small_config(name), mnist_shape(), 5);
    model->train();
    at::manual_seed(6);
    const at::Tensor x = images(mnist_shape(), 8);
    const at::Tensor labels = at::randint(0, 10, {8}, at::kLong);
    torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
    double first = 0.0;
    double last = 0.0;
    for (int step = 0; step < 15; ++step) {
      adam.zero_grad();
      at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
      if (step == 0) first = loss.item<double>();
      last = loss.item<double>();
      const at::Tensor aux = model->aux_loss();
      if (aux.defined()) loss = loss + 0.01 * aux;
      loss.backward();
      adam.step();
    }
    EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
  }
}

TEST(ResNetTest, RoutingCoreConfigKeysReachEveryMoeLayer) {
  for (const std::string name : {"resnet18_conv_moe", "resnet18_block_moe"}) {
    SCOPED_TRACE(name);
    auto cfg = small_config(name);
    cfg.moe_top_k = 2;
    cfg.moe_num_shared_experts = 1;
    cfg.moe_noise_std = 0.3;
    cfg.moe_expert_dropout = 0.2;
    cfg.moe_capacity_factor = 1.5;
    cfg.moe_routing = "expert_choice";
    cfg.moe_balance_losses = {{"z_loss", 0.01}, {"switch", 1.0}};
    const Classifier model = build(cfg, mnist_shape());
    const auto net = std::dynamic_pointer_cast<ResNetImpl>(model);
    ASSERT_NE(net, nullptr);
    ASSERT_EQ(model->moe_layers().size(), name == "resnet18_conv_moe" ? 4u : 2u);
    for (const auto& layer : model->moe_layers()) {
      const moe::MixtureOptions& o = layer.mixture->options();
      EXPECT_EQ(o.num_experts(), kExperts) << layer.name;
      EXPECT_EQ(o.top_k(), 2) << layer.name;
      EXPECT_EQ(o.capacity_factor(), 1.5) << layer.name;
      EXPECT_EQ(o.routing(), "expert_choice") << layer.name;
      EXPECT_EQ(o.balance_losses(), cfg.moe_balance_losses) << layer.name;
      EXPECT_EQ(layer.experts->size(), static_cast<std::size_t>(kExperts)) << layer.name;
    }
    const auto first = net->stages[3]->ptr(0);
    const moe::RouterOptions& router = name == "resnet18_conv_moe"
                                           ? first->as<BasicBlock>()->moe_conv1->router->options
                                           : first->as<moe::BlockMoe>()->router->options;
    EXPECT_EQ(router.top_k(), 2);
    EXPECT_EQ(router.noise_std(), 0.3);
    EXPECT_EQ(router.expert_dropout(), 0.2);
    EXPECT_EQ(router.dim(), 4 * kWidth) << "routes on the pooled input of layer4.0";
    const std::size_t shared = name == "resnet18_conv_moe"
                                   ? first->as<BasicBlock>()->moe_conv2->shared_experts->size()
                                   : first->as<moe::BlockMoe>()->shared_experts->size();
    EXPECT_EQ(shared, 1u);
    // Expert choice with capacity 1.5 * 6 * 2 / 3 = 6 rows per expert still trains.
    model->train();
    EXPECT_EQ(model->forward(images(mnist_shape(), 6)).sizes().vec(),
              (std::vector<int64_t>{6, 10}));
  }
}

TEST(ResNetTest, SameSeedGivesIdenticalOutputs) {
  for (const std::string& name : kFamilies) {
    SCOPED_TRACE(name);
    const Classifier a = build(small_config(name), mnist_shape(), 42);
    const Classifier b = build(small_config(name), mnist_shape(), 42);
    const Classifier other = build(small_config(name), mnist_shape(), 43);
    at::manual_seed(7);
    const at::Tensor x = images(mnist_shape(), 3);
    a->eval();
    b->eval();
    other->eval();
    EXPECT_TRUE(at::equal(a->forward(x), b->forward(x)));
    EXPECT_FALSE(at::equal(a->forward(x), other->forward(x)));
  }
}

}  // namespace
}  // namespace moedil::model
