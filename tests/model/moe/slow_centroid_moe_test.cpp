#include "moedil/model/moe/slow_centroid_moe.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <vector>

#include "moedil/model/feed_forward.h"

namespace moedil::model::moe {
namespace {

// Three images of 1 CLS + 2 patch tokens, width 2. The CLS tokens point away from the patch
// means, so routing on the CLS token (or on all tokens) would choose otherwise.
at::Tensor three_images() {
  return at::tensor({// image 0: patches (1, 0), (3, 0): mean (2, 0); CLS (0, 9)
                     0.0f, 9.0f, 1.0f, 0.0f, 3.0f, 0.0f,
                     // image 1: patches (0, 1), (0, 3): mean (0, 2); CLS (9, 0)
                     9.0f, 0.0f, 0.0f, 1.0f, 0.0f, 3.0f,
                     // image 2: patches (2, 1), (2, 1): mean (2, 1); CLS (0, 9)
                     0.0f, 9.0f, 2.0f, 1.0f, 2.0f, 1.0f})
      .reshape({3, 3, 2});
}

TEST(SlowCentroidMoeTest, EachImageGoesWholeToTheExpertOfItsPatchMeanWithGateOne) {
  SlowCentroidMoe layer(SlowCentroidMoeOptions(2, 4, 2).alpha_fast(1.0).alpha_slow(1.0));
  layer->train();
  // First training batch: centroids = unit patch means of images 0 and 1: (1, 0) and (0, 1).
  const at::Tensor x = three_images();
  const at::Tensor out = layer->forward(x);
  ASSERT_EQ(out.sizes().vec(), (std::vector<int64_t>{3, 3, 2}));
  // Image 2's patch mean (2, 1) is nearer (1, 0): expert 0. Every token of an image, CLS
  // included, goes through its expert, unscaled.
  const std::vector<int64_t> expert{0, 1, 0};
  for (int64_t b = 0; b < 3; ++b) {
    const at::Tensor want =
        layer->experts[static_cast<std::size_t>(expert[static_cast<std::size_t>(b)])]
            ->as<FeedForward>()
            ->forward(x[b]);
    EXPECT_TRUE(at::allclose(out[b], want, 1e-6, 1e-6)) << "image " << b;
  }
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{2, 1}));
  // No balance loss: a constant 0 that trains nothing.
  EXPECT_EQ(layer->mixture.balance_loss().item<double>(), 0.0);
  EXPECT_FALSE(layer->mixture.balance_loss().requires_grad());
  // Evaluation counts apart.
  layer->eval();
  layer->forward(x);
  EXPECT_EQ(layer->mixture.usage(false), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{2, 1}));
}

TEST(SlowCentroidMoeTest, GradientReachesTheChosenExpertsOnly) {
  SlowCentroidMoe layer(SlowCentroidMoeOptions(2, 4, 3));
  layer->train();
  // Two images, three experts: the first batch's centroids are images 0, 1, 0.
  const at::Tensor x = three_images().narrow(0, 0, 2).requires_grad_();
  layer->forward(x).sum().backward();
  const auto grad_of = [&](std::size_t e) {
    return layer->experts[e]->as<FeedForward>()->parameters().front().grad();
  };
  EXPECT_TRUE(grad_of(0).defined() && grad_of(0).abs().sum().item<double>() > 0);
  EXPECT_TRUE(grad_of(1).defined() && grad_of(1).abs().sum().item<double>() > 0);
  EXPECT_FALSE(grad_of(2).defined() && grad_of(2).abs().sum().item<double>() > 0)
      << "expert 2 received no image";
}

// moedil eval --fixed-expert: every image through the forced expert, with its gate of 1.
TEST(SlowCentroidMoeTest, AForcedExpertTakesEveryImageWithGateOne) {
  SlowCentroidMoe layer(SlowCentroidMoeOptions(2, 4, 2));
  layer->train();
  const at::Tensor x = three_images();
  layer->forward(x);
  layer->eval();
  layer->mixture.force_expert(1);
  const at::Tensor out = layer->forward(x);
  const at::Tensor want = layer->experts[1]->as<FeedForward>()->forward(x);
  EXPECT_TRUE(at::allclose(out, want, 1e-6, 1e-6));
}

TEST(SlowCentroidMoeTest, NeedsAClsTokenAndAPatch) {
  SlowCentroidMoe layer(SlowCentroidMoeOptions(2, 4, 2));
  EXPECT_THROW(layer->forward(at::zeros({2, 1, 2})), c10::Error);
  EXPECT_THROW(SlowCentroidMoe(SlowCentroidMoeOptions(2, 0, 2)), c10::Error);
}

}  // namespace
}  // namespace moedil::model::moe
