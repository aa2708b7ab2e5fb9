#include "moedil/model/cpu_attention.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <vector>

#include "moedil/model/attention.h"
#include "moedil/model/batched_matmul.h"
#include "moedil/model/head_products.h"

namespace moedil::model {
namespace {

// A LibTorch with MKL inside (the CUDA wheels) exports no cblas_sgemm: the kernel cannot run.
#define REQUIRE_KERNEL() \
  if (!direct_sgemm_available()) GTEST_SKIP() << "no cblas_sgemm in this process"

// Two tokens, one head of size 4 (scale 1/2): token 0's query meets key 0 with score 1 and key
// 1 with 0, so it takes e/(e+1) of value 0; token 1's zero query weighs both values equally.
TEST(CpuAttention, MatchesAHandComputation) {
  REQUIRE_KERNEL();
  // Per token: q | k | v.
  const at::Tensor qkv = at::tensor({2.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f, 2.f, 3.f, 4.f,
                                     0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 8.f})
                             .view({1, 2, 12});
  const double w = std::exp(1.0) / (std::exp(1.0) + 1.0);
  const at::Tensor expected = at::tensor({float(w), float(2 * w), float(3 * w),
                                          float(4 * w + 8 * (1 - w)), 0.5f, 1.f, 1.5f, 6.f})
                                  .view({1, 2, 4});
  EXPECT_TRUE(at::allclose(cpu_attention(qkv, 1), expected, 1e-6, 1e-6))
      << cpu_attention(qkv, 1);
}

// Forward and d(qkv) against the composed ops' autograd, at the peer experiment's shape
// (50 tokens, 4 heads of 16) and at odd ones (1 token, 13 tokens, heads of 3 or 24).
TEST(CpuAttention, ForwardAndBackwardAgreeWithTheComposedOps) {
  REQUIRE_KERNEL();
  struct Case {
    int64_t b, t, heads, dh;
  };
  // Heads of 8, 16, 24, 32 and 64 take model/head_products.h's kernels on an AVX2 CPU, heads of
  // 3 the BLAS; 65 tokens (ViT-Small at 64x64) leave a part vector of keys.
  for (const Case& cs : {Case{3, 50, 4, 16}, Case{2, 1, 2, 8}, Case{2, 13, 3, 3},
                         Case{1, 9, 1, 32}, Case{2, 17, 2, 24}, Case{2, 65, 2, 64}}) {
    at::manual_seed(cs.t);
    const int64_t c = cs.heads * cs.dh;
    const at::Tensor qkv0 = at::randn({cs.b, cs.t, 3 * c});
    const at::Tensor upstream = at::randn({cs.b, cs.t, c});
    std::vector<at::Tensor> outs, grads;
    for (const bool fused : {true, false}) {
      const at::Tensor qkv = qkv0.clone().requires_grad_();
      const at::Tensor out = fused ? cpu_attention(qkv, cs.heads)
                                   : multi_head_attention(qkv, cs.heads, /*fused=*/false);
      (out * upstream).sum().backward();
      outs.push_back(out.detach());
      grads.push_back(qkv.grad());
    }
    EXPECT_TRUE(at::allclose(outs[0], outs[1], 1e-5, 1e-6)) << "T " << cs.t;
    EXPECT_TRUE(at::allclose(grads[0], grads[1], 1e-4, 1e-5))
        << "T " << cs.t << " max diff " << (grads[0] - grads[1]).abs().max();
  }
}

// The first Q tokens' queries alone: the first Q rows of the whole attention's output (bit for
// bit on the head kernels, which compute each row the same way), and the gradient the whole
// attention gets for an upstream gradient that is 0 past those rows, to float rounding (the
// products' inner dimension is Q there instead of T).
TEST(CpuAttention, FirstQueriesAloneAreTheFirstRowsOfTheWhole) {
  REQUIRE_KERNEL();
  for (const int64_t dh : {16, 3}) {  // the head kernels, then the BLAS
    for (const int64_t queries : {1, 4}) {
      at::manual_seed(queries);
      const int64_t heads = 2, c = heads * dh, t = 11;
      const at::Tensor qkv0 = at::randn({3, t, 3 * c});
      const at::Tensor upstream = at::randn({3, queries, c});
      const at::Tensor first = qkv0.clone().requires_grad_();
      const at::Tensor part = cpu_attention(first, heads, queries);
      ASSERT_EQ(part.sizes(), (std::vector<int64_t>{3, queries, c}));
      (part * upstream).sum().backward();
      const at::Tensor whole_in = qkv0.clone().requires_grad_();
      const at::Tensor whole = cpu_attention(whole_in, heads);
      const at::Tensor padded_upstream = at::zeros({3, t, c});
      padded_upstream.narrow(1, 0, queries).copy_(upstream);
      (whole * padded_upstream).sum().backward();
      if (heads::applies(dh)) {  // each row computed as in the whole
        EXPECT_TRUE(at::equal(part.detach(), whole.detach().narrow(1, 0, queries)))
            << "dh " << dh << " queries " << queries;
      } else {  // the BLAS may take another path for fewer rows
        EXPECT_TRUE(at::allclose(part.detach(), whole.detach().narrow(1, 0, queries), 1e-5, 1e-6))
            << "dh " << dh << " queries " << queries;
      }
      EXPECT_TRUE(at::allclose(first.grad(), whole_in.grad(), 1e-5, 1e-6))
          << "dh " << dh << " queries " << queries << " max diff "
          << (first.grad() - whole_in.grad()).abs().max();
      // Past the first Q tokens the queries' gradient is exactly 0.
      EXPECT_TRUE(at::equal(first.grad().narrow(1, queries, t - queries).narrow(2, 0, c),
                            at::zeros({3, t - queries, c})));
    }
  }
  EXPECT_THROW(cpu_attention(at::randn({1, 3, 12}), 2, 4), c10::Error);  // 4 > 3 tokens
  EXPECT_THROW(cpu_attention(at::randn({1, 3, 12}), 2, 0), c10::Error);
}

// The forward of the first Q queries reads no other token's query (apply_linear_first_token
// leaves those uncomputed): NaN there changes nothing, on the head kernels and on the BLAS.
TEST(CpuAttention, FirstQueriesReadNoOtherQuery) {
  REQUIRE_KERNEL();
  const c10::InferenceMode inference;
  for (const int64_t dh : {16, 3}) {
    for (const int64_t queries : {1, 4}) {
      at::manual_seed(10 + queries);
      const int64_t heads = 2, c = heads * dh, t = 11;
      const at::Tensor qkv = at::randn({3, t, 3 * c});
      const at::Tensor poisoned = qkv.clone();
      poisoned.narrow(1, queries, t - queries).narrow(2, 0, c).fill_(NAN);
      EXPECT_TRUE(at::equal(cpu_attention(poisoned, heads, queries),
                            cpu_attention(qkv, heads, queries)))
          << "dh " << dh << " queries " << queries;
    }
  }
}

// A qkv whose rows are further apart than 3C (a slice of a wider tensor) is read in place.
TEST(CpuAttention, ReadsRowsWithAWiderStride) {
  REQUIRE_KERNEL();
  at::manual_seed(2);
  const at::Tensor wide = at::randn({2, 6, 3 * 8 + 5});
  const at::Tensor qkv = wide.narrow(2, 0, 24);
  ASSERT_TRUE(cpu_attention_applies(qkv, 2));
  EXPECT_TRUE(at::allclose(cpu_attention(qkv, 2),
                           multi_head_attention(qkv.contiguous(), 2, /*fused=*/false), 1e-5,
                           1e-6));
}

// Without autograd (evaluation) the same numbers, bit for bit; and the thread count does not
// change them either (each (image, head) is one task's own).
TEST(CpuAttention, SameBitsWithoutAutogradAndOnAnyThreadCount) {
  REQUIRE_KERNEL();
  at::manual_seed(5);
  const at::Tensor qkv = at::randn({8, 50, 3 * 64}).requires_grad_();
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one = cpu_attention(qkv, 4);
  at::Tensor one_grad;
  {
    at::Tensor g = at::randn({8, 50, 64});
    (one * g).sum().backward();
    one_grad = qkv.grad().clone();
    qkv.mutable_grad().zero_();
    at::set_num_threads(2);
    const at::Tensor two = cpu_attention(qkv, 4);
    (two * g).sum().backward();
    EXPECT_TRUE(at::equal(one, two));
    EXPECT_TRUE(at::equal(one_grad, qkv.grad()));
  }
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(at::equal(cpu_attention(qkv.detach(), 4), one.detach()));
  }
  at::set_num_threads(threads);
}

TEST(CpuAttention, RefusesWhatItCannotRun) {
  EXPECT_FALSE(cpu_attention_applies(at::randn({2, 3, 12}, at::kDouble), 2));
  EXPECT_FALSE(cpu_attention_applies(at::randn({2, 3, 12}), 5));   // C = 4 not divisible by 5
  EXPECT_FALSE(cpu_attention_applies(at::randn({2, 3, 13}), 1));   // not 3C
  EXPECT_FALSE(cpu_attention_applies(at::randn({2, 12}), 2));      // not [B, T, 3C]
  EXPECT_FALSE(cpu_attention_applies(at::randn({0, 3, 12}), 2));   // empty batch
  EXPECT_FALSE(cpu_attention_applies(at::randn({2, 12, 3}).transpose(1, 2), 2));  // strided
  EXPECT_THROW(cpu_attention(at::randn({2, 3, 12}, at::kDouble), 2), c10::Error);
}

// A second derivative through the kernel is refused with a message, not silently wrong.
TEST(CpuAttention, DoubleBackwardIsRefused) {
  REQUIRE_KERNEL();
  const at::Tensor qkv = at::randn({1, 4, 12}).requires_grad_();
  const at::Tensor out = cpu_attention(qkv, 2).pow(2).sum();
  try {
    at::Tensor g = torch::autograd::grad({out}, {qkv}, {}, /*retain_graph=*/true,
                                      /*create_graph=*/true)[0];
    FAIL() << "no error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no double backward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::model
