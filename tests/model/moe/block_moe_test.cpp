#include "moedil/model/moe/block_moe.h"

#include <gtest/gtest.h>

#include "../model_fixtures.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace moedil::model::moe {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kIn = 4;
constexpr int64_t kOut = 6;
constexpr int64_t kExperts = 3;

BlockMoe make_layer(int64_t top_k, int64_t num_shared = 0, int64_t stride = 2, uint64_t seed = 0) {
  at::manual_seed(seed);
  return BlockMoe(
      BlockMoeOptions(BasicBlockOptions(kIn, kOut, stride), MixtureOptions(kExperts).top_k(top_k))
          .num_shared(num_shared));
}

/// out[b] = sum over b's top-k experts of gate * block_e(x[b]) + the shared blocks, image by image
/// (in evaluation, where a BatchNorm does not depend on the other images).
at::Tensor hand_loop(BlockMoeImpl& layer, const at::Tensor& x) {
  const Routing r = layer.router(x.mean({2, 3}));
  std::vector<at::Tensor> images;
  for (int64_t b = 0; b < x.size(0); ++b) {
    const at::Tensor xb = x.slice(0, b, b + 1);
    at::Tensor y;
    for (int64_t j = 0; j < r.expert_idx.size(1); ++j) {
      const int64_t e = r.expert_idx[b][j].item<int64_t>();
      const at::Tensor term =
          r.gates[b][j] * layer.experts[static_cast<std::size_t>(e)]->as<BasicBlock>()->forward(xb);
      y = y.defined() ? y + term : term;
    }
    for (const auto& shared : *layer.shared_experts) y = y + shared->as<BasicBlock>()->forward(xb);
    images.push_back(y);
  }
  return at::cat(images, 0);
}

/// Some training forwards so the experts' BatchNorm running statistics are not the defaults.
void warm_up(BlockMoeImpl& layer) {
  layer.train();
  at::NoGradGuard no_grad;
  for (int i = 0; i < 3; ++i) layer.forward(at::randn({8, kIn, 6, 6}) * 2.0 + 0.5);
}

TEST(BlockMoeTest, OutputShapeFollowsTheBlock) {
  auto layer = make_layer(1, 0, 2);
  layer->train();
  EXPECT_EQ(layer->forward(at::randn({4, kIn, 7, 7})).sizes().vec(),
            (std::vector<int64_t>{4, kOut, 4, 4}));
  auto same = make_layer(2, 1, 1);
  EXPECT_EQ(same->forward(at::randn({3, kIn, 8, 8})).sizes().vec(),
            (std::vector<int64_t>{3, kOut, 8, 8}));
  EXPECT_EQ(layer->experts->size(), static_cast<std::size_t>(kExperts));
  EXPECT_TRUE(layer->experts[0]->as<BasicBlock>()->has_projection());
  EXPECT_EQ(layer->router->options.dim(), kIn);
}

TEST(BlockMoeTest, ExpertsAreDenseBlocksEvenWhenTheBlockOptionsAskForMoe) {
  at::manual_seed(0);
  BlockMoe layer(
      BlockMoeOptions(BasicBlockOptions(kIn, kOut, 1).moe(MoeSettings(MixtureOptions(2))),
                      MixtureOptions(kExperts)));
  const auto expert = layer->experts[0]->as<BasicBlock>();
  EXPECT_TRUE(static_cast<bool>(expert->conv1));
  EXPECT_FALSE(static_cast<bool>(expert->moe_conv1));
}

TEST(BlockMoeTest, SparseDispatchEqualsDenseAndTheHandLoopInEvaluation) {
  for (int64_t k : {1, 2}) {
    for (int64_t shared : {0, 1}) {
      SCOPED_TRACE("k=" + std::to_string(k) + " shared=" + std::to_string(shared));
      auto layer = make_layer(k, shared, 2, 3);
      warm_up(*layer);
      layer->eval();
      at::manual_seed(4);
      const at::Tensor x = at::randn({6, kIn, 6, 6});
      const at::Tensor sparse = layer->forward(x);
      EXPECT_TRUE(at::allclose(sparse, layer->forward_dense(x), 1e-5, 1e-6));
      EXPECT_TRUE(at::allclose(sparse, hand_loop(*layer, x), 1e-5, 1e-6));
    }
  }
}

TEST(BlockMoeTest, GradientsReachTheRouterAndEveryExpertThatReceivedImages) {
  auto layer = make_layer(1, 0, 1, 6);
  layer->train();
  at::manual_seed(7);
  const at::Tensor x = at::randn({10, kIn, 5, 5});
  layer->forward(x).pow(2).sum().backward();
  const std::vector<int64_t> usage = layer->mixture.usage(true);
  EXPECT_EQ(sum_of(usage), 10);
  for (const auto& p : layer->router->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
  }
  for (int64_t e = 0; e < kExperts; ++e) {
    SCOPED_TRACE("expert " + std::to_string(e));
    for (const auto& item : layer->experts[static_cast<std::size_t>(e)]->named_parameters()) {
      const at::Tensor& g = item.value().grad();
      const bool has_grad = g.defined() && g.abs().sum().item<double>() > 0.0;
      EXPECT_EQ(has_grad, usage[static_cast<std::size_t>(e)] > 0) << item.key();
    }
  }
}

TEST(BlockMoeTest, ForcedExpertTakesEveryImage) {
  auto layer = make_layer(2, 0, 1, 8);
  layer->eval();
  layer->mixture.force_expert(1);
  const at::Tensor x = at::randn({5, kIn, 4, 4});
  const at::Tensor forced = layer->forward(x);
  EXPECT_EQ(layer->mixture.usage(false), (std::vector<int64_t>{0, 5, 0}));
  // top_k 2: the forced gate is 1.
  EXPECT_TRUE(at::allclose(forced, layer->experts[1]->as<BasicBlock>()->forward(x), 1e-5, 1e-6));
}

TEST(BlockMoeTest, ParameterCountIsExpertsTimesBlockPlusRouter) {
  auto layer = make_layer(1, 1, 2);
  const int64_t block = 9 * kIn * kOut + 2 * kOut     // conv1 + bn1
                        + 9 * kOut * kOut + 2 * kOut  // conv2 + bn2
                        + kIn * kOut + 2 * kOut;      // 1x1 projection + BN
  const int64_t router = kIn * kExperts + kExperts;
  int64_t total = 0;
  for (const auto& p : layer->parameters()) total += p.numel();
  EXPECT_EQ(total, (kExperts + 1) * block + router);
}

}  // namespace
}  // namespace moedil::model::moe
