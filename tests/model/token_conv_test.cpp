#include "moedil/model/token_conv.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

namespace moedil::model {
namespace {

TEST(TokenConvTest, ConvolvesThePatchGridAndGivesClsTheMean) {
  at::manual_seed(0);
  TokenConv conv(TokenConvOptions(/*dim=*/4, /*hidden=*/6, /*grid_h=*/2, /*grid_w=*/3));
  const at::Tensor tokens = at::randn({2, 1 + 6, 4});
  const at::Tensor out = conv->forward(tokens);
  ASSERT_EQ(out.sizes(), tokens.sizes());
  // By hand: patch tokens laid out row-major as a [D, 2, 3] image.
  const at::Tensor grid = tokens.slice(1, 1).permute({0, 2, 1}).reshape({2, 4, 2, 3});
  const at::Tensor h = at::gelu(at::conv2d(grid, conv->conv1->weight, conv->conv1->bias, 1, 1));
  const at::Tensor y = at::conv2d(h, conv->conv2->weight, conv->conv2->bias);
  const at::Tensor expected = y.reshape({2, 4, 6}).permute({0, 2, 1});
  EXPECT_TRUE(out.slice(1, 1).allclose(expected, 1e-5, 1e-6));
  EXPECT_TRUE(out.select(1, 0).allclose(expected.mean(1), 1e-5, 1e-6));
  // The CLS input does not matter.
  at::Tensor other = tokens.clone();
  other.select(1, 0).fill_(100.0);
  EXPECT_TRUE(conv->forward(other).equal(out));
}

TEST(TokenConvTest, ParameterCountAndWrongTokenCount) {
  TokenConv conv(TokenConvOptions(4, 6, 2, 2));
  int64_t n = 0;
  for (const auto& p : conv->parameters()) n += p.numel();
  EXPECT_EQ(n, (4 * 6 * 9 + 6) + (6 * 4 + 4));
  EXPECT_THROW(conv->forward(at::zeros({1, 6, 4})), c10::Error);  // 5 expected
}

}  // namespace
}  // namespace moedil::model
