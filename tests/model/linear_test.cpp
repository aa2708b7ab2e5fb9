#include "moedil/model/linear.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include <vector>

namespace moedil::model {
namespace {

// Tokens [B, T, in] through addmm: the layer's own output and gradients (x, weight, bias).
TEST(ApplyLinear, SameOutputAndGradientsAsTheLayer) {
  for (const bool with_bias : {true, false}) {
    at::manual_seed(1);
    torch::nn::Linear layer(torch::nn::LinearOptions(16, 24).bias(with_bias));
    const at::Tensor x0 = at::randn({3, 7, 16});
    const at::Tensor upstream = at::randn({3, 7, 24});
    std::vector<at::Tensor> outs, grads;
    for (const bool ours : {true, false}) {
      const at::Tensor x = x0.clone().requires_grad_();
      for (auto& p : layer->parameters()) p.mutable_grad() = at::Tensor();
      const at::Tensor y = ours ? apply_linear(*layer, x) : layer->forward(x);
      EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{3, 7, 24}));
      (y * upstream).sum().backward();
      outs.push_back(y.detach());
      grads.push_back(x.grad());
      for (auto& p : layer->parameters()) grads.push_back(p.grad());
    }
    EXPECT_TRUE(at::allclose(outs[0], outs[1], 1e-6, 1e-6)) << "bias " << with_bias;
    const std::size_t half = grads.size() / 2;
    for (std::size_t i = 0; i < half; ++i) {
      EXPECT_TRUE(at::allclose(grads[i], grads[half + i], 1e-5, 1e-6)) << "gradient " << i;
    }
  }
}

// Rows of 4-D inputs, 2-D inputs, a strided input and an empty one all come out as the layer's.
TEST(ApplyLinear, OtherShapesAsTheLayer) {
  at::manual_seed(2);
  torch::nn::Linear layer(8, 5);
  for (const at::Tensor& x : {at::randn({2, 3, 4, 8}), at::randn({6, 8}),
                              at::randn({3, 8, 4}).transpose(1, 2), at::randn({0, 4, 8})}) {
    const at::Tensor ours = apply_linear(*layer, x);
    const at::Tensor theirs = layer->forward(x);
    EXPECT_EQ(ours.sizes(), theirs.sizes());
    EXPECT_TRUE(at::allclose(ours, theirs, 1e-6, 1e-6)) << x.sizes();
  }
}

}  // namespace
}  // namespace moedil::model
