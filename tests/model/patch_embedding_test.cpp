#include "moedil/model/patch_embedding.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/module.h>

#include <vector>

namespace moedil::model {
namespace {

/// The stem by the definition: its convolution, patches flattened to tokens, CLS and positions.
at::Tensor by_convolution(PatchStem& stem, const at::Tensor& images) {
  const at::Tensor x = stem.patch_embed->forward(images).flatten(2).transpose(1, 2);
  if (!stem.cls_token.defined()) return x + stem.pos_embed;
  return at::cat({stem.cls_token.expand({images.size(0), 1, stem.cls_token.size(2)}), x}, 1) +
         stem.pos_embed;
}

// embed() computes the convolution as one matrix product on the CPU: the same tokens and the
// same gradients for the kernel, bias, CLS token, positions and images, for 1 and 3 channels,
// with and without a CLS token.
TEST(PatchStem, TokensAndGradientsAsTheConvolution) {
  struct Case {
    int64_t channels, size, patch, dim;
    bool cls;
  };
  for (const Case& cs : {Case{1, 28, 4, 16, true}, Case{3, 12, 3, 8, false},
                         Case{3, 8, 8, 5, true}}) {
    torch::nn::Module owner;
    at::manual_seed(1);
    PatchStem stem = register_patch_stem(owner, {cs.channels, cs.size, cs.size, 10}, cs.patch,
                                         cs.dim, "test", cs.cls);
    const at::Tensor images0 = at::randn({5, cs.channels, cs.size, cs.size});
    std::vector<at::Tensor> outs, grads;
    for (const bool product : {true, false}) {
      for (auto& p : owner.parameters()) p.mutable_grad() = at::Tensor();
      const at::Tensor images = images0.clone().requires_grad_();
      const at::Tensor tokens = product ? stem.embed(images) : by_convolution(stem, images);
      tokens.pow(2).sum().backward();
      outs.push_back(tokens.detach());
      grads.push_back(images.grad());
      for (auto& p : owner.parameters()) grads.push_back(p.grad());
    }
    const int64_t n = (cs.size / cs.patch) * (cs.size / cs.patch) + (cs.cls ? 1 : 0);
    EXPECT_EQ(outs[0].sizes().vec(), (std::vector<int64_t>{5, n, cs.dim}));
    EXPECT_TRUE(at::allclose(outs[0], outs[1], 1e-5, 1e-6)) << "patch " << cs.patch;
    const std::size_t half = grads.size() / 2;
    for (std::size_t i = 0; i < half; ++i) {
      EXPECT_TRUE(at::allclose(grads[i], grads[half + i], 1e-4, 1e-5))
          << "patch " << cs.patch << " gradient " << i;
    }
  }
}

TEST(PatchStem, ImageSizeNotDivisibleByThePatchIsRefused) {
  torch::nn::Module owner;
  EXPECT_THROW(register_patch_stem(owner, {1, 28, 28, 10}, 5, 8, "test"), c10::Error);
}

}  // namespace
}  // namespace moedil::model
