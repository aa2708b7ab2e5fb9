#include "moedil/model/gelu.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <string>
#include <utility>
#include <vector>

#include "thread_count.h"

namespace moedil::model {
namespace {

using moedil::testing::ThreadCount;

/// Forward and backward of apply_gelu and of at::gelu on the same input and upstream gradient.
struct Both {
  at::Tensor y, dx, y_ref, dx_ref;
};

Both run_both(const at::Tensor& x0, const at::Tensor& grad) {
  Both out;
  const at::Tensor x = x0.clone().requires_grad_(true);
  out.y = apply_gelu(x);
  out.y.backward(grad);
  out.dx = x.grad();
  const at::Tensor xr = x0.clone().requires_grad_(true);
  out.y_ref = at::gelu(xr);
  out.y_ref.backward(grad);
  out.dx_ref = xr.grad();
  return out;
}

/// Where a and b differ most beyond atol + rtol |b|: "x ..., ours ..., reference ...".
std::string worst(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b, double rtol,
                  double atol) {
  const at::Tensor excess = (a - b).abs() - atol - rtol * b.abs();
  const int64_t i = excess.argmax().item<int64_t>();
  return "x " + std::to_string(x[i].item<float>()) + ", ours " +
         std::to_string(a[i].item<double>()) + ", reference " + std::to_string(b[i].item<double>());
}

// Sizes below one piece (no parallel region), of several pieces and a ragged last one, against
// LibTorch's GELU in double precision (std::erf): within the erf approximation's 1.5e-7 times
// |x| / 2 and float rounding. Against LibTorch's float32 GELU more loosely: it approximates erf
// too, and 2.6's loses digits for x < 0, as computing 1 + erf(x / sqrt 2) there does, which
// moedil's kernel avoids (at x = -3.49: -0.000828 where the exact value is -0.00082939).
TEST(ApplyGelu, ForwardAndBackwardAsLibTorchs) {
  at::manual_seed(1);
  for (const int64_t n : {int64_t{7}, int64_t{1000}, 3 * kGeluPiece + 5}) {
    SCOPED_TRACE("n " + std::to_string(n));
    const at::Tensor x0 = 3.0 * at::randn({n});
    const at::Tensor grad = at::randn({n});
    ASSERT_TRUE(direct_gelu_applies(x0));
    const Both r = run_both(x0, grad);
    const at::Tensor xd = x0.to(at::kDouble).requires_grad_(true);
    const at::Tensor yd = at::gelu(xd);
    yd.backward(grad.to(at::kDouble));
    const at::Tensor y64 = r.y.to(at::kDouble);
    const at::Tensor dx64 = r.dx.to(at::kDouble);
    EXPECT_TRUE(at::allclose(y64, yd, 3e-7, 1e-6)) << worst(x0, y64, yd, 3e-7, 1e-6);
    EXPECT_TRUE(at::allclose(dx64, xd.grad(), 3e-7, 2e-6))
        << worst(x0, dx64, xd.grad(), 3e-7, 2e-6);
    EXPECT_TRUE(at::allclose(r.y, r.y_ref, 1e-6, 4e-6)) << worst(x0, r.y, r.y_ref, 1e-6, 4e-6);
    EXPECT_TRUE(at::allclose(r.dx, r.dx_ref, 1e-5, 1e-5))
        << worst(x0, r.dx, r.dx_ref, 1e-5, 1e-5);
  }
}

TEST(ApplyGelu, SameBitsOnOneOrTwoThreadsAndWithoutAutograd) {
  at::manual_seed(2);
  const at::Tensor x0 = at::randn({64, 50, 128});  // 25 pieces
  const at::Tensor grad = at::randn({64, 50, 128});
  const auto run = [&](int threads) {
    const ThreadCount count(threads);
    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor y = apply_gelu(x);
    y.backward(grad);
    return std::make_pair(y.detach(), x.grad());
  };
  const auto one = run(1);
  const auto two = run(2);
  EXPECT_TRUE(at::equal(one.first, two.first));
  EXPECT_TRUE(at::equal(one.second, two.second));
  const c10::InferenceMode inference;
  EXPECT_TRUE(at::equal(apply_gelu(x0), one.first));
}

TEST(ApplyGelu, LibTorchsOwnWhereTheKernelDoesNotApply) {
  at::manual_seed(3);
  const at::Tensor strided = at::randn({8, 5}).t();
  EXPECT_FALSE(direct_gelu_applies(strided));
  EXPECT_TRUE(at::equal(apply_gelu(strided), at::gelu(strided)));
  const at::Tensor as_double = at::randn({6}, at::kDouble);
  EXPECT_FALSE(direct_gelu_applies(as_double));
  EXPECT_TRUE(at::equal(apply_gelu(as_double), at::gelu(as_double)));
  EXPECT_FALSE(direct_gelu_applies(at::empty({0})));
  EXPECT_EQ(apply_gelu(at::empty({0, 3})).sizes(), (std::vector<int64_t>{0, 3}));
}

// A non-contiguous upstream gradient (here: through a transpose) is made contiguous first.
// The reference is LibTorch's GELU in double precision: its float32 backward through oneDNN
// returns zeros for such a gradient (LibTorch 1.13, checked when this test was written).
TEST(ApplyGelu, StridedUpstreamGradient) {
  at::manual_seed(4);
  const at::Tensor x0 = at::randn({5, 7});
  const at::Tensor grad = at::randn({7, 5});
  const at::Tensor x = x0.clone().requires_grad_(true);
  apply_gelu(x).t().backward(grad);
  const at::Tensor xr = x0.to(at::kDouble).requires_grad_(true);
  at::gelu(xr).t().backward(grad.to(at::kDouble));
  EXPECT_TRUE(at::allclose(x.grad(), xr.grad().to(at::kFloat), 1e-5, 1e-6))
      << x.grad() << xr.grad();
}

// create_graph: the gradient is itself differentiable (through LibTorch's gelu_backward), and
// its gradient matches LibTorch's own second derivative.
TEST(ApplyGelu, DoubleBackwardThroughLibTorch) {
  at::manual_seed(5);
  const at::Tensor x0 = at::randn({10});
  const auto second = [&](bool ours) {
    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor y = (ours ? apply_gelu(x) : at::gelu(x)).sum();
    const at::Tensor g = torch::autograd::grad({y}, {x}, {}, true, true)[0];
    return torch::autograd::grad({g.sum()}, {x})[0];
  };
  EXPECT_TRUE(at::allclose(second(true), second(false), 1e-5, 1e-6));
}

}  // namespace
}  // namespace moedil::model
