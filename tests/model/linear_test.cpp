#include "moedil/model/linear.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/linear.h>

#include "moedil/model/batched_matmul.h"
#include "moedil/model/cpu_autocast.h"
#include "moedil/model/gelu.h"
#include "moedil/model/linear_kernel.h"
#include "moedil/train/precision.h"

#include <vector>

#include "thread_count.h"

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

struct Result {
  at::Tensor y, dx, dw, db;
};

/// y = apply_linear (ours) or the layer's forward, and the gradients of sum(y * upstream).
Result run(torch::nn::Linear& layer, const at::Tensor& x0, const at::Tensor& upstream,
           bool ours) {
  const at::Tensor x = x0.clone().requires_grad_();
  for (auto& p : layer->parameters()) p.mutable_grad() = at::Tensor();
  const at::Tensor y = ours ? apply_linear(*layer, x) : layer->forward(x);
  (y * upstream).sum().backward();
  return {y.detach(), x.grad(), layer->weight.grad(), layer->bias.grad()};
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) { return at::equal(a, b); }

// Enough rows for several row blocks (1300 = 5 x 256 + 20) and several parts of d(W)
// (1300 / 512 -> 2): the BLAS path's output and gradients are the layer's to float rounding.
TEST(ApplyLinear, ManyRowsGoStraightToTheBlasWithTheLayersResults) {
  if (!direct_sgemm_available()) GTEST_SKIP() << "no cblas_sgemm in this process (MKL)";
  at::manual_seed(3);
  torch::nn::Linear layer(24, 40);
  const at::Tensor x0 = at::randn({4, 325, 24});
  const at::Tensor upstream = at::randn({4, 325, 40});
  ASSERT_TRUE(direct_linear_applies(*layer, x0));
  ASSERT_EQ(linear_weight_grad_parts(1300), 2);
  const Result ours = run(layer, x0, upstream, true);
  const Result theirs = run(layer, x0, upstream, false);
  EXPECT_EQ(ours.y.sizes().vec(), (std::vector<int64_t>{4, 325, 40}));
  EXPECT_TRUE(at::allclose(ours.y, theirs.y, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(ours.dx, theirs.dx, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(ours.dw, theirs.dw, 1e-4, 1e-4));
  EXPECT_TRUE(at::allclose(ours.db, theirs.db, 1e-4, 1e-4));
  // A 2-D input takes the same path.
  EXPECT_TRUE(direct_linear_applies(*layer, x0.view({1300, 24})));
  EXPECT_TRUE(at::allclose(apply_linear(*layer, x0.view({1300, 24})), theirs.y.view({1300, 40}),
                           1e-5, 1e-5));
}

// The blocks and parts do not depend on the thread count: the same bits on 1 and 2 threads,
// and run after run.
TEST(ApplyLinear, SameBitsOnOneOrTwoThreads) {
  if (!direct_sgemm_available()) GTEST_SKIP() << "no cblas_sgemm in this process (MKL)";
  at::manual_seed(4);
  torch::nn::Linear layer(64, 96);
  const at::Tensor x0 = at::randn({2100, 64});
  const at::Tensor upstream = at::randn({2100, 96});
  Result one, two, again;
  {
    const testing::ThreadCount threads(1);
    one = run(layer, x0, upstream, true);
  }
  {
    const testing::ThreadCount threads(2);
    two = run(layer, x0, upstream, true);
    again = run(layer, x0, upstream, true);
  }
  for (const Result* r : {&two, &again}) {
    EXPECT_TRUE(same_bits(one.y, r->y));
    EXPECT_TRUE(same_bits(one.dx, r->dx));
    EXPECT_TRUE(same_bits(one.dw, r->dw));
    EXPECT_TRUE(same_bits(one.db, r->db));
  }
}

TEST(ApplyLinear, WeightGradientPartsFollowTheRows) {
  EXPECT_EQ(linear_weight_grad_parts(0), 1);
  EXPECT_EQ(linear_weight_grad_parts(511), 1);
  EXPECT_EQ(linear_weight_grad_parts(1024), 2);
  EXPECT_EQ(linear_weight_grad_parts(3200), 6);
  EXPECT_EQ(linear_weight_grad_parts(1000000), kLinearMaxParts);
}

// Without autograd (inference mode, as in evaluation) the output is the same and carries no
// graph; with create_graph the gradients can be differentiated again, as the layer's.
TEST(ApplyLinear, InferenceModeAndSecondDerivativesAsTheLayer) {
  at::manual_seed(5);
  torch::nn::Linear layer(8, 6);
  const at::Tensor x0 = at::randn({5, 9, 8});
  at::Tensor y_graph = apply_linear(*layer, x0);
  {
    c10::InferenceMode guard;
    const at::Tensor y = apply_linear(*layer, x0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(at::allclose(y, y_graph.detach(), 1e-6, 1e-6));
  }
  std::vector<at::Tensor> second;
  for (const bool ours : {true, false}) {
    const at::Tensor x = x0.clone().requires_grad_();
    const at::Tensor y = ours ? apply_linear(*layer, x) : layer->forward(x);
    const at::Tensor w_grad =
        torch::autograd::grad({y.square().sum()}, {layer->weight}, {}, true, true)[0];
    second.push_back(torch::autograd::grad({w_grad.sum()}, {x})[0]);
  }
  EXPECT_TRUE(at::allclose(second[0], second[1], 1e-5, 1e-5));
}

// On AVX-512 the forward is moedil's kernel (model/linear_kernel.h): every output row follows
// its own input row alone, so a row comes out the same bits in a batch of 1,300 (six blocks,
// two threads) and alone; and the whole matches the layer to float rounding.
TEST(ApplyLinear, KernelRowsDoNotDependOnTheRowsAround) {
  if (!direct_sgemm_available()) GTEST_SKIP() << "no cblas_sgemm in this process (MKL)";
  if (!linear_kernel::applies(64, 96)) GTEST_SKIP() << "this CPU has no AVX-512";
  at::manual_seed(7);
  torch::nn::Linear layer(64, 96);
  const at::Tensor x = at::randn({1300, 64});
  const c10::InferenceMode inference;
  const testing::ThreadCount threads(2);
  const at::Tensor all = apply_linear(*layer, x);
  EXPECT_TRUE(at::allclose(all, layer->forward(x), 1e-5, 1e-5));
  for (const int64_t row : {0, 5, 255, 256, 1299}) {
    EXPECT_TRUE(same_bits(apply_linear(*layer, x.narrow(0, row, 1)), all.narrow(0, row, 1)))
        << "row " << row;
  }
  EXPECT_TRUE(same_bits(apply_linear(*layer, x.narrow(0, 7, 13)), all.narrow(0, 7, 13)));
}

// apply_linear_gelu is apply_gelu(apply_linear(...)) bit for bit: without autograd in one pass
// (the kernel's outputs, 128 wide, and the BLAS's, 40 wide), with autograd composed, the same
// gradients.
TEST(ApplyLinearGelu, SameBitsAsTheGeluOfTheLinear) {
  at::manual_seed(8);
  for (const int64_t out : {128, 40}) {
    torch::nn::Linear layer(64, out);
    const at::Tensor x0 = at::randn({6, 50, 64});
    {
      const c10::InferenceMode inference;
      const at::Tensor fused = apply_linear_gelu(*layer, x0);
      EXPECT_EQ(fused.sizes().vec(), (std::vector<int64_t>{6, 50, out}));
      EXPECT_TRUE(same_bits(fused, apply_gelu(apply_linear(*layer, x0)))) << out;
      EXPECT_TRUE(at::allclose(fused, at::gelu(layer->forward(x0)), 1e-5, 1e-5)) << out;
    }
    {
      const at::NoGradGuard no_grad;
      EXPECT_TRUE(same_bits(apply_linear_gelu(*layer, x0), apply_gelu(apply_linear(*layer, x0))));
    }
    std::vector<at::Tensor> ys, grads;
    for (const bool fused : {true, false}) {
      const at::Tensor x = x0.clone().requires_grad_();
      layer->weight.mutable_grad() = at::Tensor();
      const at::Tensor y =
          fused ? apply_linear_gelu(*layer, x) : apply_gelu(apply_linear(*layer, x));
      EXPECT_TRUE(y.requires_grad());
      y.square().sum().backward();
      ys.push_back(y.detach());
      grads.push_back(x.grad());
      grads.push_back(layer->weight.grad());
    }
    EXPECT_TRUE(same_bits(ys[0], ys[1]));
    EXPECT_TRUE(same_bits(grads[0], grads[2]));
    EXPECT_TRUE(same_bits(grads[1], grads[3]));
  }
}

// apply_linear_residual is residual + apply_linear(...) bit for bit: a contiguous residual, a
// strided one (the first token of each sequence, as TransformerBlock's last block passes it), on
// the kernel's outputs (96 wide) and the BLAS's (40); with autograd composed, the same gradients.
TEST(ApplyLinearResidual, SameBitsAsAddingTheResidualAfterwards) {
  at::manual_seed(9);
  for (const int64_t out : {96, 40}) {
    torch::nn::Linear layer(64, out);
    const at::Tensor x = at::randn({4, 50, 64});
    const at::Tensor whole = at::randn({4, 50, out});
    const at::Tensor tokens = at::randn({4, 7, out});
    const at::Tensor x_first = at::randn({4, 1, 64});
    const c10::InferenceMode inference;
    EXPECT_TRUE(same_bits(apply_linear_residual(*layer, x, whole), whole + apply_linear(*layer, x)))
        << out;
    const at::Tensor first = tokens.narrow(1, 0, 1);  // [4, 1, out], rows 7 * out apart
    EXPECT_TRUE(same_bits(apply_linear_residual(*layer, x_first, first),
                          first + apply_linear(*layer, x_first)))
        << out;
    EXPECT_TRUE(at::allclose(apply_linear_residual(*layer, x, whole), whole + layer->forward(x),
                             1e-5, 1e-5));
  }
  torch::nn::Linear layer(16, 32);
  const at::Tensor x0 = at::randn({3, 5, 16});
  const at::Tensor r0 = at::randn({3, 5, 32});
  std::vector<at::Tensor> grads;
  for (const bool fused : {true, false}) {
    const at::Tensor x = x0.clone().requires_grad_();
    const at::Tensor r = r0.clone().requires_grad_();
    const at::Tensor y = fused ? apply_linear_residual(*layer, x, r) : r + apply_linear(*layer, x);
    y.square().sum().backward();
    grads.push_back(x.grad());
    grads.push_back(r.grad());
  }
  EXPECT_TRUE(same_bits(grads[0], grads[2]));
  EXPECT_TRUE(same_bits(grads[1], grads[3]));
}

// apply_linear_first_token: outputs [leading, out) of every token and [0, leading) of token 0
// as apply_linear gives them; nothing (undefined) with autograd, on a width the kernel does not
// take, or without the kernel.
TEST(ApplyLinearFirstToken, FirstTokensLeadingOutputsAndEveryTokensRest) {
  at::manual_seed(10);
  torch::nn::Linear layer(64, 192);
  const at::Tensor x = at::randn({5, 50, 64});
  {
    const c10::InferenceMode inference;
    const at::Tensor part = apply_linear_first_token(*layer, x, 64);
    if (!linear_kernel::applies(64, 64)) {
      EXPECT_FALSE(part.defined());
      GTEST_SKIP() << "this CPU has no AVX-512: apply_linear_first_token declines";
    }
    ASSERT_TRUE(part.defined());
    const at::Tensor full = apply_linear(*layer, x);
    ASSERT_EQ(part.sizes(), full.sizes());
    EXPECT_TRUE(same_bits(part.narrow(2, 64, 128), full.narrow(2, 64, 128)));
    EXPECT_TRUE(same_bits(part.narrow(1, 0, 1), full.narrow(1, 0, 1)));
    EXPECT_FALSE(apply_linear_first_token(*layer, x, 40).defined());   // 40: not 16k wide
    EXPECT_FALSE(apply_linear_first_token(*layer, x, 0).defined());
    EXPECT_FALSE(apply_linear_first_token(*layer, x, 192).defined());
    EXPECT_FALSE(apply_linear_first_token(*layer, x.view({250, 64}), 64).defined());  // not 3-D
  }
  EXPECT_FALSE(apply_linear_first_token(*layer, x, 64).defined());  // the weight wants a gradient
}

// What the direct path does not take: doubles, no rows, no bias, a layer above
// kLinearMaxDirectWeights (OpenBLAS's own threading is faster there), CPU autocast.
TEST(ApplyLinear, OtherTensorsTakeTheLayersOwnPath) {
  at::manual_seed(6);
  torch::nn::Linear layer(8, 5);
  EXPECT_FALSE(direct_linear_applies(*layer, at::randn({4, 8}, at::kDouble)));
  EXPECT_FALSE(direct_linear_applies(*layer, at::randn({0, 8})));
  torch::nn::Linear no_bias(torch::nn::LinearOptions(8, 5).bias(false));
  EXPECT_FALSE(direct_linear_applies(*no_bias, at::randn({4, 8})));
  torch::nn::Linear wide(128, 256);
  EXPECT_TRUE(direct_linear_applies(*wide, at::randn({4, 128})));
  torch::nn::Linear wider(128, 257);
  EXPECT_FALSE(direct_linear_applies(*wider, at::randn({4, 128})));
  const at::Tensor xw = at::randn({2, 300, 128});
  EXPECT_TRUE(at::allclose(apply_linear(*wider, xw), wider->forward(xw), 1e-5, 1e-5));
  {
    // CPU autocast (amp "bf16" on the CPU): at::addmm, which autocast casts to bfloat16.
    const train::AutocastGuard bf16("bf16", at::kCPU);
    EXPECT_TRUE(cpu_autocast_enabled());
    EXPECT_FALSE(direct_linear_applies(*wide, at::randn({4, 128})));
    EXPECT_EQ(apply_linear(*wide, at::randn({2, 3, 128})).scalar_type(), at::kBFloat16);
  }
  EXPECT_FALSE(cpu_autocast_enabled());
  EXPECT_TRUE(direct_linear_applies(*wide, at::randn({4, 128})));
  layer->to(at::kDouble);
  const at::Tensor xd = at::randn({3, 4, 8}, at::kDouble);
  EXPECT_TRUE(at::allclose(apply_linear(*layer, xd), layer->forward(xd)));
}

}  // namespace
}  // namespace moedil::model
