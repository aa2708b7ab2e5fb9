#include "moedil/model/attention.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace moedil::model {
namespace {

// The fused kernel exists exactly from LibTorch 2.0 on: the guard must not switch it off there.
TEST(AttentionTest, FusedKernelAvailableExactlyOnLibTorch2) {
  EXPECT_EQ(fused_attention_available(), TORCH_VERSION_MAJOR >= 2);
}

// Two tokens, head size 4 (scale 1/2). Token 0's query meets key 0 with score 2*1/2 = 1 and key 1
// with 0, so it takes e/(e+1) of value 0; token 1's zero query weighs both values equally.
TEST(AttentionTest, BothPathsMatchAHandComputation) {
  const at::Tensor q = at::tensor({2.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}).view({1, 1, 2, 4});
  const at::Tensor k = at::tensor({1.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}).view({1, 1, 2, 4});
  const at::Tensor v = at::tensor({1.f, 2.f, 3.f, 4.f, 0.f, 0.f, 0.f, 8.f}).view({1, 1, 2, 4});
  const double w = std::exp(1.0) / (std::exp(1.0) + 1.0);
  const at::Tensor expected =
      at::tensor({float(w), float(2 * w), float(3 * w), float(4 * w + 8 * (1 - w)),  //
                  0.5f, 1.f, 1.5f, 6.f})
          .view({1, 1, 2, 4});
  for (const bool fused : {false, true}) {
    const at::Tensor out = scaled_dot_attention(q, k, v, fused);
    EXPECT_TRUE(at::allclose(out, expected, 1e-6, 1e-6)) << "fused " << fused << "\n" << out;
  }
}

// Forward and backward of the two paths agree on random inputs (on 1.13 both run the matmuls).
TEST(AttentionTest, FusedAndManualPathsAgreeWithGradients) {
  at::manual_seed(3);
  const at::Tensor q0 = at::randn({2, 3, 5, 8}), k0 = at::randn({2, 3, 5, 8}),
                   v0 = at::randn({2, 3, 5, 8}), upstream = at::randn({2, 3, 5, 8});
  std::vector<at::Tensor> outputs, grads;
  for (const bool fused : {false, true}) {
    const at::Tensor q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_(),
                     v = v0.clone().requires_grad_();
    const at::Tensor out = scaled_dot_attention(q, k, v, fused);
    (out * upstream).sum().backward();
    outputs.push_back(out.detach());
    grads.push_back(at::cat({q.grad(), k.grad(), v.grad()}));
  }
  EXPECT_TRUE(at::allclose(outputs[0], outputs[1], 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(grads[0], grads[1], 1e-5, 1e-5));
}

// The module: same weights, fused(true) and fused(false) give the same tokens and the same
// parameter gradients, so models train the same way on either path.
TEST(AttentionTest, ModuleFusedAndManualAgree) {
  at::manual_seed(4);
  SelfAttention fused(SelfAttentionOptions(16, 4));
  SelfAttention manual(SelfAttentionOptions(16, 4).fused(false));
  {
    at::NoGradGuard no_grad;
    const auto from = fused->parameters();
    const auto to = manual->parameters();
    ASSERT_EQ(from.size(), to.size());
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  const at::Tensor x = at::randn({3, 7, 16});
  const at::Tensor a = fused->forward(x);
  const at::Tensor b = manual->forward(x);
  EXPECT_EQ(a.sizes().vec(), (std::vector<int64_t>{3, 7, 16}));
  EXPECT_TRUE(at::allclose(a, b, 1e-5, 1e-5));
  a.pow(2).sum().backward();
  b.pow(2).sum().backward();
  const auto ga = fused->parameters();
  const auto gb = manual->parameters();
  for (std::size_t i = 0; i < ga.size(); ++i) {
    EXPECT_TRUE(at::allclose(ga[i].grad(), gb[i].grad(), 1e-4, 1e-5)) << "parameter " << i;
  }
}

// On a GPU the fused kernels (flash, memory-efficient) must agree with the matmuls, and both with
// the CPU, in float and (looser) in bfloat16. Run by scripts/gpu-check.sh.
TEST(AttentionTest, FusedAndManualAgreeOnGpu_CUDA) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(5);
  const at::Tensor q = at::randn({4, 2, 17, 32}), k = at::randn({4, 2, 17, 32}),
                   v = at::randn({4, 2, 17, 32});
  const at::Tensor on_cpu = scaled_dot_attention(q, k, v, /*fused=*/false);
  const at::Tensor qc = q.cuda(), kc = k.cuda(), vc = v.cuda();
  for (const bool fused : {false, true}) {
    const at::Tensor out = scaled_dot_attention(qc, kc, vc, fused).cpu();
    EXPECT_TRUE(at::allclose(out, on_cpu, 1e-4, 1e-4)) << "float, fused " << fused;
    const at::Tensor low = scaled_dot_attention(qc.to(at::kBFloat16), kc.to(at::kBFloat16),
                                                vc.to(at::kBFloat16), fused);
    EXPECT_EQ(low.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(at::allclose(low.cpu().to(at::kFloat), on_cpu, 5e-2, 5e-2))
        << "bf16, fused " << fused;
  }
}

// A MoE expert can be handed no rows at all; both paths return an empty batch.
TEST(AttentionTest, EmptyBatchGivesEmptyOutput) {
  for (const bool fused : {false, true}) {
    SelfAttention attn(SelfAttentionOptions(8, 2).fused(fused));
    const at::Tensor out = attn->forward(at::zeros({0, 5, 8}));
    EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{0, 5, 8})) << "fused " << fused;
  }
}

TEST(AttentionTest, DimNotDivisibleByHeadsIsRefused) {
  EXPECT_THROW(SelfAttention(SelfAttentionOptions(10, 4)), c10::Error);
}

}  // namespace
}  // namespace moedil::model
