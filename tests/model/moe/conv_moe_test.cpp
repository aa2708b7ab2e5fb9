#include "moedil/model/moe/conv_moe.h"

#include <gtest/gtest.h>

#include "../model_fixtures.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace moedil::model::moe {
namespace {

using namespace moedil::model::fixtures;

constexpr int64_t kIn = 3;
constexpr int64_t kOut = 5;
constexpr int64_t kExperts = 3;

ConvMoe make_layer(int64_t top_k, int64_t num_shared = 0, int64_t stride = 1, uint64_t seed = 0) {
  at::manual_seed(seed);
  return ConvMoe(
      ConvMoeOptions(torch::nn::Conv2dOptions(kIn, kOut, 3).stride(stride).padding(1).bias(false),
                     MixtureOptions(kExperts).top_k(top_k))
          .num_shared(num_shared));
}

/// out[b] = sum over b's top-k experts of gate * conv_e(x[b]) + sum of the shared convs: the
/// definition, computed image by image.
at::Tensor hand_loop(ConvMoeImpl& layer, const at::Tensor& x) {
  const Routing r = layer.router(x.mean({2, 3}));
  std::vector<at::Tensor> images;
  for (int64_t b = 0; b < x.size(0); ++b) {
    const at::Tensor xb = x.slice(0, b, b + 1);
    at::Tensor y;
    for (int64_t j = 0; j < r.expert_idx.size(1); ++j) {
      const int64_t e = r.expert_idx[b][j].item<int64_t>();
      const at::Tensor term =
          r.gates[b][j] *
          layer.experts[static_cast<std::size_t>(e)]->as<torch::nn::Conv2d>()->forward(xb);
      y = y.defined() ? y + term : term;
    }
    for (const auto& shared : *layer.shared_experts)
      y = y + shared->as<torch::nn::Conv2d>()->forward(xb);
    images.push_back(y);
  }
  return at::cat(images, 0);
}

TEST(ConvMoeTest, OutputShapeFollowsTheConvolution) {
  auto layer = make_layer(1, 0, 1);
  EXPECT_EQ(layer->forward(at::randn({4, kIn, 28, 28})).sizes().vec(),
            (std::vector<int64_t>{4, kOut, 28, 28}));
  auto strided = make_layer(2, 1, 2);
  EXPECT_EQ(strided->forward(at::randn({2, kIn, 7, 7})).sizes().vec(),
            (std::vector<int64_t>{2, kOut, 4, 4}));
  EXPECT_EQ(layer->experts->size(), static_cast<std::size_t>(kExperts));
  EXPECT_EQ(strided->shared_experts->size(), 1u);
  EXPECT_EQ(layer->router->options.dim(), kIn);
  EXPECT_EQ(layer->router->options.num_experts(), kExperts);
}

TEST(ConvMoeTest, SparseDispatchEqualsDenseAndTheHandLoop) {
  for (int64_t k : {1, 2}) {
    for (int64_t shared : {0, 1}) {
      SCOPED_TRACE("k=" + std::to_string(k) + " shared=" + std::to_string(shared));
      auto layer = make_layer(k, shared, 2, 3);
      at::manual_seed(4);
      const at::Tensor x = at::randn({6, kIn, 8, 8});
      for (bool training : {true, false}) {
        layer->train(training);
        const at::Tensor sparse = layer->forward(x);
        const at::Tensor dense = layer->forward_dense(x);
        const at::Tensor hand = hand_loop(*layer, x);
        EXPECT_TRUE(at::allclose(sparse, dense, 1e-5, 1e-6)) << "training " << training;
        EXPECT_TRUE(at::allclose(sparse, hand, 1e-5, 1e-6)) << "training " << training;
      }
    }
  }
}

TEST(ConvMoeTest, UsageCountsOneDecisionPerImage) {
  auto layer = make_layer(2, 0, 1, 5);
  layer->train();
  layer->forward(at::randn({7, kIn, 6, 6}));
  const std::vector<int64_t> usage = layer->mixture.usage(true);
  ASSERT_EQ(usage.size(), static_cast<std::size_t>(kExperts));
  EXPECT_EQ(sum_of(usage), 7 * 2) << "7 images, top-2: not one per pixel";
  EXPECT_EQ(sum_of(layer->mixture.usage(false)), 0);
  EXPECT_TRUE(layer->mixture.balance_loss().defined());
}

TEST(ConvMoeTest, GradientsReachTheRouterAndEveryExpertThatReceivedImages) {
  auto layer = make_layer(1, 1, 1, 6);
  layer->train();
  at::manual_seed(7);
  const at::Tensor x = at::randn({8, kIn, 5, 5});
  layer->forward(x).pow(2).sum().backward();
  const std::vector<int64_t> usage = layer->mixture.usage(true);
  for (const auto& p : layer->router->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0) << "top-1 gate is the router probability";
  }
  int64_t with_rows = 0;
  for (int64_t e = 0; e < kExperts; ++e) {
    const at::Tensor w =
        layer->experts[static_cast<std::size_t>(e)]->as<torch::nn::Conv2d>()->weight;
    const bool has_grad = w.grad().defined() && w.grad().abs().sum().item<double>() > 0.0;
    EXPECT_EQ(has_grad, usage[static_cast<std::size_t>(e)] > 0) << "expert " << e;
    with_rows += usage[static_cast<std::size_t>(e)] > 0;
  }
  EXPECT_GE(with_rows, 1);
  const at::Tensor shared = layer->shared_experts[0]->as<torch::nn::Conv2d>()->weight;
  ASSERT_TRUE(shared.grad().defined());
  EXPECT_GT(shared.grad().abs().sum().item<double>(), 0.0);
}

TEST(ConvMoeTest, ForcedExpertTakesEveryImage) {
  auto layer = make_layer(1, 0, 1, 8);
  layer->eval();
  layer->mixture.force_expert(2);
  const at::Tensor x = at::randn({5, kIn, 4, 4});
  const at::Tensor forced = layer->forward(x);
  EXPECT_EQ(layer->mixture.usage(false), (std::vector<int64_t>{0, 0, 5}));
  // The gate is the router's probability of expert 2.
  const Routing r = layer->router(x.mean({2, 3}));
  const at::Tensor want = layer->experts[2]->as<torch::nn::Conv2d>()->forward(x) *
                          r.probs.select(1, 2).reshape({5, 1, 1, 1});
  EXPECT_TRUE(at::allclose(forced, want, 1e-5, 1e-6));
}

TEST(ConvMoeTest, ParameterCountIsExpertsTimesConvPlusRouter) {
  auto layer = make_layer(1, 2, 1);
  const int64_t conv = kIn * kOut * 3 * 3;  // bias(false)
  const int64_t router = kIn * kExperts + kExperts;
  int64_t total = 0;
  for (const auto& p : layer->parameters()) total += p.numel();
  EXPECT_EQ(total, (kExperts + 2) * conv + router);
}

}  // namespace
}  // namespace moedil::model::moe
