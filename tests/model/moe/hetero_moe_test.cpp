// hetero_moe: the heterogeneous MoE layer on its own and the hetero_moe model family.
#include "moedil/model/moe/hetero_moe.h"

#include <gtest/gtest.h>

#include "../model_fixtures.h"

#include <ATen/ATen.h>
#include <torch/optim/adam.h>

#include <numeric>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/model/registry.h"
#include "moedil/model/token_conv.h"

namespace moedil::model::moe {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kDim = 8;
constexpr int64_t kHidden = 16;

HeteroMoeOptions layer_options(int64_t top_k) {
  return HeteroMoeOptions(kDim, kHidden, {"mlp", "conv", "attention"})
      .num_heads(2)
      .grid_h(2)
      .grid_w(2)
      .settings(MoeSettings(MixtureOptions(3).top_k(top_k)));
}

TEST(HeteroMoeTest, ParameterCountByHand) {
  HeteroMoe layer(layer_options(1));
  int64_t n = 0;
  for (const auto& p : layer->parameters()) n += p.numel();
  const int64_t router = kDim * 3 + 3;
  const int64_t mlp = (kDim * kHidden + kHidden) + (kHidden * kDim + kDim);
  const int64_t conv = (kDim * kHidden * 9 + kHidden) + (kHidden * kDim + kDim);
  const int64_t attention = (kDim * 3 * kDim + 3 * kDim) + (kDim * kDim + kDim);
  EXPECT_EQ(n, router + mlp + conv + attention);
  EXPECT_EQ(layer->experts->size(), 3u);
}

TEST(HeteroMoeTest, SparseEqualsDenseAndGradientsReachRouterAndEveryExpert) {
  at::manual_seed(3);
  HeteroMoe layer(layer_options(3));  // top 3 of 3: every expert gets every image
  const at::Tensor x = at::randn({6, 5, kDim});
  const at::Tensor sparse = layer->forward(x);
  ASSERT_EQ(sparse.sizes(), x.sizes());
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{6, 6, 6}));
  const at::Tensor balance = layer->mixture.balance_loss();
  const at::Tensor dense = layer->forward_dense(x);
  EXPECT_TRUE(sparse.allclose(dense, 1e-5, 1e-6));
  (sparse.pow(2).sum() + balance).backward();
  for (const auto& item : layer->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<double>(), 0.0) << item.key();
  }
}

TEST(HeteroMoeTest, RoutesWholeImagesAndForcedExpertTakesAll) {
  at::manual_seed(4);
  HeteroMoe layer(layer_options(1));
  layer->eval();
  const at::Tensor x = at::randn({7, 5, kDim});
  layer->forward(x);
  EXPECT_EQ(sum_of(layer->mixture.usage(false)), 7) << "one row per image, not per token";
  layer->mixture.reset_usage(false);
  layer->mixture.force_expert(1);
  const at::Tensor forced = layer->forward(x);
  EXPECT_EQ(layer->mixture.usage(false), (std::vector<int64_t>{0, 7, 0}));
  // The conv expert alone, gated by the router's probability for it.
  const at::Tensor probs = at::softmax(layer->router->gate(x.select(1, 0)), -1).select(1, 1);
  const at::Tensor expected =
      layer->experts[1]->as<model::TokenConv>()->forward(x) * probs.reshape({7, 1, 1});
  EXPECT_TRUE(forced.allclose(expected, 1e-5, 1e-6));
}

TEST(HeteroMoeTest, UnknownKindIsRefused) {
  EXPECT_THROW(HeteroMoe(HeteroMoeOptions(kDim, kHidden, {"mlp", "lstm"})), c10::Error);
}

config::ModelConfig hetero_config() {
  config::ModelConfig c;
  c.name = "hetero_moe";
  c.patch_size = 7;
  c.embed_dim = kDim;
  c.depth = 2;
  c.num_heads = 2;
  c.mlp_ratio = 2.0;
  c.moe_layer_indices = {1};
  c.moe_top_k = 1;
  c.hetero_experts = {"mlp", "conv", "attention", "mlp"};
  return c;
}

TEST(HeteroMoeModelTest, ShapesForGrayAndColourAndLayerNames) {
  at::manual_seed(0);
  Classifier gray = make_model(hetero_config(), InputShape{1, 28, 28, 10});
  EXPECT_EQ(gray->forward(at::randn({3, 1, 28, 28})).sizes().vec(),
            (std::vector<int64_t>{3, 10}));
  EXPECT_EQ(gray->moe_layer_names(), (std::vector<std::string>{"blocks.1.moe"}));
  EXPECT_EQ(gray->moe_layers().front().experts->size(), 4u);
  config::ModelConfig c = hetero_config();
  c.patch_size = 8;
  Classifier colour = make_model(c, InputShape{3, 32, 32, 5});
  EXPECT_EQ(colour->forward(at::randn({2, 3, 32, 32})).sizes().vec(),
            (std::vector<int64_t>{2, 5}));
  const auto usage = colour->expert_usage(/*training=*/true);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(sum_of(usage[0].counts), 2);
}

TEST(HeteroMoeModelTest, AdamStepsLowerTheLoss) {
  at::manual_seed(1);
  Classifier model = make_model(hetero_config(), InputShape{1, 28, 28, 4});
  model->train();
  const at::Tensor x = at::randn({16, 1, 28, 28});
  const at::Tensor y = at::arange(16, at::kLong).remainder(4);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(0.01));
  double first = 0.0;
  double last = 0.0;
  for (int step = 0; step < 15; ++step) {
    const at::Tensor logits = model->forward(x);  // before aux_loss(): it sets the loss
    const at::Tensor loss = at::cross_entropy_loss(logits, y) + 0.01 * model->aux_loss();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  EXPECT_LT(last, 0.5 * first);
}

}  // namespace
}  // namespace moedil::model::moe
