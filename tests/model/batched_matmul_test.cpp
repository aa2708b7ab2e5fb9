#include "moedil/model/batched_matmul.h"

#include "moedil/common/cpu_tuning.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/autograd.h>

namespace moedil::model {
namespace {

/// What the tests below expect of the direct path: taken wherever CBLAS is there.
bool direct_if_available(bool wanted) { return wanted && direct_sgemm_available(); }

/// a @ b and the gradients of sum(w * (a @ b)) for a and b, from batched_matmul and from
/// at::matmul, compared; `direct` says whether batched_matmul must take the BLAS path.
void expect_matches_matmul(const at::Tensor& a0, const at::Tensor& b0, bool direct) {
  ASSERT_EQ(direct_sgemm_applies(a0, b0), direct_if_available(direct));
  const at::Tensor a = a0.detach().requires_grad_(true);
  const at::Tensor b = b0.detach().requires_grad_(true);
  const at::Tensor ar = a0.detach().requires_grad_(true);
  const at::Tensor br = b0.detach().requires_grad_(true);
  const at::Tensor got = batched_matmul(a, b);
  const at::Tensor want = at::matmul(ar, br);
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-5)) << (got - want).abs().max();
  const at::Tensor w = at::randn(want.sizes(), want.options());
  (got * w).sum().backward();
  (want * w).sum().backward();
  EXPECT_TRUE(at::allclose(a.grad(), ar.grad(), 1e-5, 1e-5)) << (a.grad() - ar.grad()).abs().max();
  EXPECT_TRUE(at::allclose(b.grad(), br.grad(), 1e-5, 1e-5)) << (b.grad() - br.grad()).abs().max();
}

TEST(BatchedMatmul, CblasIsFoundWhereLibTorchUsesOpenBlas) {
  // Debian's LibTorch links libblas.so.3 (OpenBLAS), which has CBLAS: the tests below would
  // otherwise only check at::matmul against itself. (A LibTorch with MKL inside, the CUDA
  // wheels, exports no CBLAS; there batched_matmul is at::matmul.)
  if (openblas_core().empty()) GTEST_SKIP() << "this LibTorch does not use OpenBLAS";
  EXPECT_TRUE(direct_sgemm_available());
}

TEST(BatchedMatmul, ContiguousBatchesMatchMatmul) {
  at::manual_seed(1);
  expect_matches_matmul(at::randn({7, 5, 3}), at::randn({7, 3, 4}), true);
  expect_matches_matmul(at::randn({2, 3, 50, 16}), at::randn({2, 3, 16, 50}), true);
  expect_matches_matmul(at::randn({4, 1, 6}), at::randn({4, 6, 1}), true);  // row @ column
}

TEST(BatchedMatmul, AttentionsStridedViewsAreReadInPlace) {
  // q, k, v as attention slices them from the fused projection: [B, T, 3, H, dh] permuted to
  // [3, B, H, T, dh]; k transposed. None is contiguous.
  at::manual_seed(2);
  const int64_t B = 3, T = 10, H = 4, dh = 8;
  const at::Tensor parts = at::randn({B, T, 3, H, dh}).permute({2, 0, 3, 1, 4});
  const at::Tensor q = parts[0];
  const at::Tensor k = parts[1];
  const at::Tensor v = parts[2];
  ASSERT_FALSE(q.is_contiguous());
  expect_matches_matmul(q, k.transpose(-2, -1), true);
  const at::Tensor p = at::softmax(at::randn({B, H, T, T}), -1);
  expect_matches_matmul(p, v, true);
  expect_matches_matmul(p.transpose(-2, -1), v, true);  // transposed left operand
}

TEST(BatchedMatmul, UnfitStridesAreCopiedFirst) {
  at::manual_seed(3);
  // Every other column: neither dimension has unit stride.
  const at::Tensor a = at::randn({3, 4, 10}).slice(2, 0, 10, 2);
  expect_matches_matmul(a, at::randn({3, 5, 6}), true);
}

TEST(BatchedMatmul, SingleElementMatricesWithoutAUnitStride) {
  // [4, 1, 1] views whose strides are all 4: contiguous() keeps them as they are.
  at::manual_seed(7);
  const at::Tensor a = at::randn({4, 4}).t().unsqueeze(-1).slice(1, 0, 1);
  ASSERT_EQ(a.sizes(), at::IntArrayRef({4, 1, 1}));
  expect_matches_matmul(a, at::randn({4, 1, 3}), true);
  expect_matches_matmul(at::randn({4, 3, 1}), a, true);
}

TEST(BatchedMatmul, SecondDerivativesWithCreateGraph) {
  // d/da of sum((a @ b)^2), differentiated again through the backward's own products.
  at::manual_seed(8);
  const at::Tensor a0 = at::randn({3, 4, 5});
  const at::Tensor b0 = at::randn({3, 5, 2});
  const auto hessian_vector = [&](bool ours) {
    const at::Tensor a = a0.clone().requires_grad_(true);
    const at::Tensor b = b0.clone().requires_grad_(true);
    const at::Tensor c = ours ? batched_matmul(a, b) : at::matmul(a, b);
    const at::Tensor ga = torch::autograd::grad({(c * c).sum()}, {a}, {}, true, true)[0];
    return torch::autograd::grad({ga.sum()}, {b})[0];
  };
  const at::Tensor got = hessian_vector(true);
  const at::Tensor want = hessian_vector(false);
  EXPECT_TRUE(at::allclose(got, want, 1e-4, 1e-5)) << (got - want).abs().max();
}

TEST(BatchedMatmul, OtherOperandsGoToMatmul) {
  at::manual_seed(4);
  expect_matches_matmul(at::randn({4, 3}), at::randn({3, 2}), false);                // 2-D
  expect_matches_matmul(at::randn({2, 4, 3}), at::randn({1, 3, 2}), false);          // broadcast
  const at::Tensor a = at::randn({2, 4, 3}, at::kDouble);
  const at::Tensor b = at::randn({2, 3, 2}, at::kDouble);
  EXPECT_FALSE(direct_sgemm_applies(a, b));
  EXPECT_TRUE(at::allclose(batched_matmul(a, b), at::matmul(a, b)));
}

TEST(BatchedMatmul, SameResultOnOneThreadAndTwo) {
  // Each matrix is one whole sgemm call whichever thread makes it: the thread count does not
  // change a bit of the product.
  at::manual_seed(5);
  const at::Tensor a = at::randn({64, 4, 50, 16});
  const at::Tensor b = at::randn({64, 4, 16, 50});
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one = batched_matmul(a, b);
  at::set_num_threads(2);
  const at::Tensor two = batched_matmul(a, b);
  at::set_num_threads(before);
  EXPECT_TRUE(at::equal(one, two));
}

TEST(BatchedMatmul, InferenceModeAndEmptyBatches) {
  at::manual_seed(6);
  const at::Tensor a = at::randn({3, 5, 4});
  const at::Tensor b = at::randn({3, 4, 2});
  {
    c10::InferenceMode guard;
    EXPECT_TRUE(at::allclose(batched_matmul(a, b), at::matmul(a, b), 1e-5, 1e-5));
  }
  EXPECT_EQ(batched_matmul(at::randn({0, 5, 4}), at::randn({0, 4, 2})).sizes(),
            at::IntArrayRef({0, 5, 2}));
  const at::Tensor zero_k = batched_matmul(at::randn({2, 3, 0}), at::randn({2, 0, 4}));
  EXPECT_TRUE(at::equal(zero_k, at::zeros({2, 3, 4})));
}

}  // namespace
}  // namespace moedil::model
