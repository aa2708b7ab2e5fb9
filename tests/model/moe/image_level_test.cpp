#include "moedil/model/moe/image_level.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "centroid_fixtures.h"

namespace moedil::model::moe {
namespace {

using namespace centroid_fixtures;

TEST(ImageLevelMoeTest, CentroidLossIsTheWeightedSumWithTheScheduledKlWeight) {
  ImageLevelMoe layer(ImageLevelMoeOptions(2, 4, 3)
                          .repulsion_weight(0.2)
                          .alignment_weight(0.3)
                          .consistency_weight(0.4)
                          .balance_losses({}));
  {
    at::NoGradGuard no_grad;
    layer->router->proj->weight.copy_(at::eye(2));
    layer->router->proj->bias.zero_();
    layer->router->fast_centroids.copy_(tensor_of(kFast));
    layer->router->slow_centroids.copy_(tensor_of(kSlow));
  }
  layer->set_schedule(0.5, 0.7);
  layer->train();
  // One token per image: its mean is the pooled row of the hand example.
  const at::Tensor out = layer->forward(tensor_of(kPooled).unsqueeze(1));
  EXPECT_EQ(out.sizes().vec(), (std::vector<int64_t>{3, 1, 2}));
  const CentroidLosses& l = layer->router->losses();
  EXPECT_DOUBLE_EQ(layer->router->temperature(), 0.5);
  const double expected = 0.2 * l.repulsion.item<double>() + 0.3 * l.alignment.item<double>() +
                          0.4 * l.consistency.item<double>() + 0.7 * l.balance.item<double>();
  EXPECT_NEAR(layer->centroid_loss().item<double>(), expected, 1e-6);
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{2, 1, 0}));
}

TEST(ImageLevelMoeTest, CapacityDropsOverflowImages) {
  // Capacity ceil(1 * 3 images * 1 / 3 experts) = 1: expert 0 is chosen by two images, keeps one.
  ImageLevelMoe layer(ImageLevelMoeOptions(2, 4, 3).capacity_factor(1.0).balance_losses({}));
  {
    at::NoGradGuard no_grad;
    layer->router->proj->weight.copy_(at::eye(2));
    layer->router->proj->bias.zero_();
    layer->router->fast_centroids.copy_(tensor_of(kFast));
  }
  layer->train();
  const at::Tensor out = layer->forward(tensor_of(kPooled).unsqueeze(1));
  EXPECT_EQ(layer->mixture.usage(true), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_NEAR(layer->mixture.dropped_fraction(true), 1.0 / 3.0, 1e-12);
  int64_t zero_rows = 0;
  for (int64_t b = 0; b < 3; ++b) zero_rows += out[b].abs().sum().item<double>() == 0.0;
  EXPECT_EQ(zero_rows, 1);
}

}  // namespace
}  // namespace moedil::model::moe
