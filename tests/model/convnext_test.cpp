#include "moedil/model/convnext.h"

#include <gtest/gtest.h>

#include "model_fixtures.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>

#include <cstdint>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/model/convnext_block.h"
#include "moedil/model/registry.h"

namespace moedil::model {
namespace {

using namespace moedil::model::fixtures;

config::ModelConfig small_config() {
  config::ModelConfig c;
  c.name = "convnext_tiny";
  c.convnext_depths = {1, 1, 2, 1};
  c.convnext_dims = {4, 8, 8, 12};
  c.convnext_stem_patch = 2;
  return c;
}

/// Hand count: dwconv 7x7 (49d + d), LayerNorm 2d, Linear d->4d (4d^2 + 4d), Linear 4d->d
/// (4d^2 + d), layer scale d.
int64_t block(int64_t d) { return 49 * d + d + 2 * d + 4 * d * d + 4 * d + 4 * d * d + d + d; }

int64_t hand_count(const std::vector<int64_t>& depths, const std::vector<int64_t>& dims,
                   int64_t patch, const InputShape& in) {
  int64_t total = in.channels * dims[0] * patch * patch + dims[0] + 2 * dims[0];  // stem + norm
  for (std::size_t i = 0; i < 4; ++i) {
    if (i > 0) total += 2 * dims[i - 1] + 4 * dims[i - 1] * dims[i] + dims[i];  // downsample
    total += depths[i] * block(dims[i]);
  }
  return total + 2 * dims[3] + dims[3] * in.num_classes + in.num_classes;  // norm + head
}

TEST(ConvNeXtBlockTest, ShapeResidualAndLayerScale) {
  at::manual_seed(0);
  ConvNeXtBlock b(ConvNeXtBlockOptions(6));
  const at::Tensor x = at::randn({2, 6, 5, 7});
  const at::Tensor y = b->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  // gamma = 1e-6: the block starts close to the identity, but not at it.
  EXPECT_LT((y - x).abs().max().item<double>(), 1e-3);
  EXPECT_FALSE(at::equal(y, x));
  EXPECT_EQ(b->gamma.sizes().vec(), (std::vector<int64_t>{6}));
  EXPECT_EQ(b->dwconv->options.groups(), 6);
  ConvNeXtBlock plain(ConvNeXtBlockOptions(6).layer_scale_init(0.0));
  EXPECT_FALSE(plain->gamma.defined());
  int64_t n = 0;
  for (const auto& p : b->parameters()) n += p.numel();
  EXPECT_EQ(n, block(6));
  EXPECT_EQ(block(6), 8 * 36 + 58 * 6);
}

TEST(ConvNeXtTest, OutputShapesOnGrayAndColourImages) {
  for (const InputShape& in : {mnist_shape(), cifar_shape()}) {
    for (int64_t patch : {1, 2, 4, 7}) {
      SCOPED_TRACE("patch " + std::to_string(patch) + " channels " + std::to_string(in.channels));
      auto c = small_config();
      c.convnext_stem_patch = patch;
      const Classifier model = build(c, in);
      model->train();
      const at::Tensor y = model->forward(images(in, 3));
      EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{3, in.num_classes}));
      EXPECT_TRUE(at::isfinite(y).all().item<bool>());
    }
  }
  // The default (paper depths, CPU dims) fits 28x28 too.
  config::ModelConfig defaults;
  defaults.name = "convnext_tiny";
  const Classifier model = build(defaults, mnist_shape());
  model->eval();
  EXPECT_EQ(model->forward(images(mnist_shape(), 2)).sizes().vec(), (std::vector<int64_t>{2, 10}));
}

TEST(ConvNeXtTest, OddSizesRoundUpSoNoStageReachesZero) {
  // 28 / 4 = 7 -> 4 -> 2 -> 1; a stem as large as the image leaves 1x1 for every stage.
  struct Case {
    int64_t patch;
    std::vector<int64_t> sizes;
  };
  for (const Case& c : {Case{4, {7, 4, 2, 1}}, Case{28, {1, 1, 1, 1}}, Case{2, {14, 7, 4, 2}},
                        Case{3, {9, 5, 3, 2}}}) {
    SCOPED_TRACE(c.patch);
    at::manual_seed(1);
    ConvNeXt net(
        ConvNeXtOptions(mnist_shape()).depths({1, 1, 1, 1}).dims({4, 5, 6, 7}).stem_patch(c.patch));
    const std::vector<at::Tensor> features = net->features(images(mnist_shape(), 2));
    ASSERT_EQ(features.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(features[i].sizes().vec(),
                (std::vector<int64_t>{2, 4 + static_cast<int64_t>(i), c.sizes[i], c.sizes[i]}))
          << "stage " << i;
    }
    EXPECT_EQ(net->forward(images(mnist_shape(), 2)).sizes().vec(), (std::vector<int64_t>{2, 10}));
  }
  auto c = small_config();
  c.convnext_stem_patch = 29;
  try {
    make_model(c, mnist_shape());
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.convnext_stem_patch"), std::string::npos)
        << e.what();
  }
  c.convnext_stem_patch = 32;
  EXPECT_THROW(make_model(c, mnist_shape()), ConfigError);
  EXPECT_NO_THROW(make_model(c, cifar_shape()));
}

TEST(ConvNeXtTest, ConvAndLinearWeightsStartTruncatedNormalBiasesZero) {
  at::manual_seed(9);
  ConvNeXt net{ConvNeXtOptions(mnist_shape())};  // defaults: big enough tensors for a std
  const at::Tensor w = net->stages[3]->ptr(0)->as<ConvNeXtBlock>()->pwconv1->weight;  // 1024x256
  EXPECT_LE(w.abs().max().item<double>(), 0.04);
  // The std of N(0, 0.02^2) truncated at 2 std is 0.02 * 0.8796.
  EXPECT_NEAR(w.std().item<double>(), 0.02 * 0.8796, 0.0005);
  for (const auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool is_norm = name.find("norm") != std::string::npos;
    if (is_bias && !is_norm) EXPECT_EQ(item.value().abs().max().item<double>(), 0.0) << name;
    if (!is_bias && !is_norm && name.find("gamma") == std::string::npos) {
      EXPECT_LE(item.value().abs().max().item<double>(), 0.04) << name;
    }
  }
}

TEST(ConvNeXtTest, ParameterCountsMatchHandCount) {
  const auto c = small_config();
  EXPECT_EQ(count_parameters(*build(c, mnist_shape())),
            hand_count(c.convnext_depths, c.convnext_dims, 2, mnist_shape()));
  EXPECT_EQ(hand_count({1, 1, 2, 1}, {4, 8, 8, 12}, 2, mnist_shape()), 6154) << "by hand";
  auto four = c;
  four.convnext_stem_patch = 4;
  EXPECT_EQ(count_parameters(*build(four, cifar_shape())),
            hand_count(c.convnext_depths, c.convnext_dims, 4, cifar_shape()));
  config::ModelConfig defaults;
  defaults.name = "convnext_tiny";
  EXPECT_EQ(count_parameters(*build(defaults, mnist_shape())),
            hand_count({3, 3, 9, 3}, {32, 64, 128, 256}, 2, mnist_shape()));
}

TEST(ConvNeXtTest, GradientsReachEveryParameter) {
  const Classifier model = build(small_config(), cifar_shape(), 2);
  model->train();
  at::manual_seed(3);
  const at::Tensor labels = at::randint(0, 5, {4}, at::kLong);
  torch::nn::functional::cross_entropy(model->forward(images(cifar_shape(), 4)), labels).backward();
  int64_t checked = 0;
  for (const auto& item : model->named_parameters()) {
    const at::Tensor& g = item.value().grad();
    ASSERT_TRUE(g.defined()) << item.key();
    EXPECT_GT(g.abs().sum().item<double>(), 0.0) << item.key();
    ++checked;
  }
  EXPECT_EQ(checked, 4 + 3 * 4 + 5 * 9 + 2 + 2);  // stem+norm, downsamples, blocks, norm, head
  EXPECT_TRUE(model->moe_layer_names().empty());
  EXPECT_FALSE(model->aux_loss().defined());
}

TEST(ConvNeXtTest, AdamStepsOnAFixedBatchLowerTheLoss) {
  const Classifier model = build(small_config(), mnist_shape(), 4);
  model->train();
  at::manual_seed(5);
  const at::Tensor x = images(mnist_shape(), 8);
  const at::Tensor labels = at::randint(0, 10, {8}, at::kLong);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0.0;
  double last = 0.0;
  for (int step = 0; step < 20; ++step) {
    adam.zero_grad();
    const at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    adam.step();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

}  // namespace
}  // namespace moedil::model
