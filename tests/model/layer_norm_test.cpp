#include "moedil/model/layer_norm.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/nn/modules/normalization.h>

#include <string>
#include <utility>
#include <vector>

#include "thread_count.h"

namespace moedil::model {
namespace {

using moedil::testing::ThreadCount;

/// A LayerNorm over `n` with weights and biases away from 1 and 0.
torch::nn::LayerNorm make_layer(int64_t n, double eps = 1e-5) {
  torch::nn::LayerNorm layer(torch::nn::LayerNormOptions({n}).eps(eps));
  at::NoGradGuard no_grad;
  layer->weight.copy_(1.0 + 0.5 * at::randn({n}));
  layer->bias.copy_(at::randn({n}));
  return layer;
}

TEST(ApplyLayerNorm, ForwardAndBackwardAsLibTorchs) {
  at::manual_seed(1);
  // 200 rows: the backward in one part; 1,200 rows: in two, whose sums are added.
  for (const auto& [n, batch] : {std::pair<int64_t, int64_t>{64, 4}, {13, 4}, {64, 24}, {13, 24}}) {
    SCOPED_TRACE("n " + std::to_string(n) + " batch " + std::to_string(batch));
    torch::nn::LayerNorm layer = make_layer(n);
    const at::Tensor x0 = 3.0 + at::randn({batch, 50, n});
    const at::Tensor grad = at::randn({batch, 50, n});
    ASSERT_TRUE(direct_layer_norm_applies(*layer, x0));

    const at::Tensor x = x0.clone().requires_grad_(true);
    const at::Tensor y = apply_layer_norm(*layer, x);
    y.backward(grad);
    const at::Tensor dw = layer->weight.grad().clone();
    const at::Tensor db = layer->bias.grad().clone();
    layer->weight.mutable_grad() = at::Tensor();
    layer->bias.mutable_grad() = at::Tensor();

    const at::Tensor xr = x0.clone().requires_grad_(true);
    const at::Tensor yr = layer->forward(xr);
    yr.backward(grad);
    EXPECT_TRUE(at::allclose(y, yr, 1e-5, 1e-5)) << (y - yr).abs().max().item<float>();
    EXPECT_TRUE(at::allclose(x.grad(), xr.grad(), 1e-4, 1e-4))
        << (x.grad() - xr.grad()).abs().max().item<float>();
    EXPECT_TRUE(at::allclose(dw, layer->weight.grad(), 1e-4, 1e-3));
    EXPECT_TRUE(at::allclose(db, layer->bias.grad(), 1e-4, 1e-3));
  }
}

// One value per row is its own mean: the output is the bias, exactly. (LibTorch's forward
// computes x * scale - mean * scale there, and is off by ~1e-4 at eps 1e-5.)
TEST(ApplyLayerNorm, RowsOfOneGiveTheBias) {
  torch::nn::LayerNorm layer = make_layer(1);
  const at::Tensor x = 3.0 + at::randn({6, 1});
  const at::Tensor y = apply_layer_norm(*layer, x);
  EXPECT_TRUE(at::equal(y, layer->bias.detach().expand({6, 1})));
}

TEST(ApplyLayerNorm, WithoutAutogradTheSameBits) {
  at::manual_seed(2);
  torch::nn::LayerNorm layer = make_layer(64);
  const at::Tensor x = at::randn({3, 17, 64});
  const at::Tensor trained = apply_layer_norm(*layer, x);  // weights need grad: autograd path
  ASSERT_TRUE(trained.requires_grad());
  at::Tensor inferred;
  {
    const c10::InferenceMode inference;
    inferred = apply_layer_norm(*layer, x);
  }
  EXPECT_TRUE(at::equal(trained.detach(), inferred));
}

TEST(ApplyLayerNorm, SameBitsOnOneOrTwoThreads) {
  at::manual_seed(3);
  torch::nn::LayerNorm layer = make_layer(64);
  const at::Tensor x = at::randn({64, 50, 64});  // 3200 rows: many pieces
  at::Tensor one, two;
  {
    const ThreadCount threads(1);
    one = apply_layer_norm(*layer, x);
  }
  {
    const ThreadCount threads(2);
    two = apply_layer_norm(*layer, x);
  }
  EXPECT_TRUE(at::equal(one, two));
}

// The backward's d(weight) and d(bias) are summed over fixed parts of the rows, not per
// thread: the same bits on one thread as on two (3,200 rows: 6 parts).
TEST(ApplyLayerNorm, BackwardSameBitsOnOneOrTwoThreads) {
  at::manual_seed(5);
  torch::nn::LayerNorm layer = make_layer(64);
  const at::Tensor x0 = at::randn({64, 50, 64});
  const at::Tensor grad = at::randn({64, 50, 64});
  const auto backward = [&](int threads) {
    const ThreadCount count(threads);
    const at::Tensor x = x0.clone().requires_grad_(true);
    layer->weight.mutable_grad() = at::Tensor();
    layer->bias.mutable_grad() = at::Tensor();
    apply_layer_norm(*layer, x).backward(grad);
    return std::vector<at::Tensor>{x.grad(), layer->weight.grad().clone(),
                                   layer->bias.grad().clone()};
  };
  const std::vector<at::Tensor> one = backward(1);
  const std::vector<at::Tensor> two = backward(2);
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(at::equal(one[i], two[i])) << i;
}

// Only the gradients autograd asks for: frozen weights get none, and an input that needs no
// gradient still lets the weights have theirs (the same as when both are asked for).
TEST(ApplyLayerNorm, OnlyTheGradientsAskedFor) {
  at::manual_seed(6);
  torch::nn::LayerNorm layer = make_layer(16);
  const at::Tensor x0 = at::randn({40, 16});
  const at::Tensor grad = at::randn({40, 16});
  const at::Tensor x = x0.clone().requires_grad_(true);
  apply_layer_norm(*layer, x).backward(grad);
  const at::Tensor dx = x.grad().clone();
  const at::Tensor dw = layer->weight.grad().clone();
  const at::Tensor db = layer->bias.grad().clone();
  layer->weight.mutable_grad() = at::Tensor();
  layer->bias.mutable_grad() = at::Tensor();

  apply_layer_norm(*layer, x0).backward(grad);  // x needs no gradient
  EXPECT_TRUE(at::equal(layer->weight.grad(), dw));
  EXPECT_TRUE(at::equal(layer->bias.grad(), db));

  layer->weight.requires_grad_(false);
  layer->bias.requires_grad_(false);
  const at::Tensor x2 = x0.clone().requires_grad_(true);
  apply_layer_norm(*layer, x2).backward(grad);
  EXPECT_TRUE(at::equal(x2.grad(), dx));
}

TEST(ApplyLayerNorm, LibTorchsOwnWhereTheKernelDoesNotApply) {
  at::manual_seed(4);
  torch::nn::LayerNorm layer = make_layer(8);
  const at::Tensor x = at::randn({5, 8});
  // Not contiguous, not float32: the layer's own forward, bit for bit.
  const at::Tensor strided = at::randn({8, 5}).t();
  EXPECT_FALSE(direct_layer_norm_applies(*layer, strided));
  EXPECT_TRUE(at::equal(apply_layer_norm(*layer, strided), layer->forward(strided)));
  torch::nn::LayerNorm as_double = make_layer(8);
  as_double->to(at::kDouble);
  const at::Tensor xd = x.to(at::kDouble);
  EXPECT_FALSE(direct_layer_norm_applies(*as_double, xd));
  EXPECT_TRUE(at::equal(apply_layer_norm(*as_double, xd), as_double->forward(xd)));
  // No affine parameters, or more than one normalised dim: LibTorch's too.
  torch::nn::LayerNorm plain(torch::nn::LayerNormOptions({8}).elementwise_affine(false));
  EXPECT_FALSE(direct_layer_norm_applies(*plain, x));
  torch::nn::LayerNorm two_dims(torch::nn::LayerNormOptions({5, 8}));
  EXPECT_FALSE(direct_layer_norm_applies(*two_dims, x));
  EXPECT_TRUE(at::equal(apply_layer_norm(*two_dims, x), two_dims->forward(x)));
}

TEST(ApplyLayerNorm, NoDoubleBackward) {
  torch::nn::LayerNorm layer = make_layer(8);
  const at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  const at::Tensor y = apply_layer_norm(*layer, x).pow(2).sum();
  try {
    (void)torch::autograd::grad({y}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true);
    FAIL() << "expected the double backward to be refused";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no double backward"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::model
