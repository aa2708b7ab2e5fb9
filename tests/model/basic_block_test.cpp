#include "moedil/model/basic_block.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace moedil::model {
namespace {

int64_t count(torch::nn::Module& m) {
  int64_t total = 0;
  for (const auto& p : m.parameters()) total += p.numel();
  return total;
}

TEST(BasicBlockTest, ShapesAndShortcut) {
  at::manual_seed(0);
  BasicBlock same(BasicBlockOptions(4, 4, 1));
  EXPECT_FALSE(same->has_projection());
  EXPECT_EQ(same->forward(at::randn({2, 4, 7, 7})).sizes().vec(),
            (std::vector<int64_t>{2, 4, 7, 7}));
  BasicBlock down(BasicBlockOptions(4, 8, 2));
  EXPECT_TRUE(down->has_projection());
  // Odd sizes round up: 7 -> 4.
  EXPECT_EQ(down->forward(at::randn({2, 4, 7, 7})).sizes().vec(),
            (std::vector<int64_t>{2, 8, 4, 4}));
  BasicBlock wider(BasicBlockOptions(4, 8, 1));
  EXPECT_TRUE(wider->has_projection());
  BasicBlock strided(BasicBlockOptions(4, 4, 2));
  EXPECT_TRUE(strided->has_projection());
  // Outputs are after the final ReLU.
  EXPECT_GE(down->forward(at::randn({2, 4, 7, 7})).min().item<double>(), 0.0);
}

TEST(BasicBlockTest, IdentityShortcutAddsTheInput) {
  at::manual_seed(1);
  BasicBlock block(BasicBlockOptions(3, 3, 1));
  block->eval();
  // Zero the second BN's scale and shift: the residual branch gives 0, the block is relu(x).
  at::NoGradGuard no_grad;
  block->bn2->weight.zero_();
  block->bn2->bias.zero_();
  const at::Tensor x = at::randn({2, 3, 5, 5});
  EXPECT_TRUE(at::allclose(block->forward(x), at::relu(x)));
}

TEST(BasicBlockTest, ParameterCountsMatchHandCount) {
  BasicBlock same(BasicBlockOptions(4, 4, 1));
  EXPECT_EQ(count(*same), 9 * 4 * 4 + 2 * 4 + 9 * 4 * 4 + 2 * 4);  // 304
  BasicBlock down(BasicBlockOptions(4, 8, 2));
  EXPECT_EQ(count(*down), 9 * 4 * 8 + 2 * 8 + 9 * 8 * 8 + 2 * 8 + 4 * 8 + 2 * 8);  // 1264
  // Conv MoE: each 3x3 conv is E experts plus shared ones plus a router on its input width.
  BasicBlock routed(
      BasicBlockOptions(4, 8, 2).moe(moe::MoeSettings(moe::MixtureOptions(3)).num_shared(1)));
  EXPECT_EQ(count(*routed), 4 * 9 * 4 * 8 + (4 * 3 + 3) + 2 * 8        // conv1 experts, router, bn1
                                + 4 * 9 * 8 * 8 + (8 * 3 + 3) + 2 * 8  // conv2
                                + 4 * 8 + 2 * 8);                      // projection
}

TEST(BasicBlockTest, MoeBlockRegistersItsConvMoeUnderTheConvNames) {
  at::manual_seed(2);
  BasicBlock routed(BasicBlockOptions(4, 4, 1).moe(moe::MoeSettings(moe::MixtureOptions(2))));
  EXPECT_FALSE(static_cast<bool>(routed->conv1));
  ASSERT_TRUE(static_cast<bool>(routed->moe_conv1));
  const auto params = routed->named_parameters();
  EXPECT_TRUE(params.contains("conv1.router.gate.weight"));
  EXPECT_TRUE(params.contains("conv1.experts.1.weight"));
  EXPECT_TRUE(params.contains("conv2.experts.0.weight"));
  EXPECT_FALSE(params.contains("conv1.weight"));
  routed->train();
  EXPECT_EQ(routed->forward(at::randn({3, 4, 6, 6})).sizes().vec(),
            (std::vector<int64_t>{3, 4, 6, 6}));
  EXPECT_EQ(routed->moe_conv1->mixture.usage(true).size(), 2u);
}

}  // namespace
}  // namespace moedil::model
