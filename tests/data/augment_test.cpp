#include "moedil/data/augment.h"

#include <gtest/gtest.h>

namespace moedil::data {
namespace {

/// [B, 1, H, W] images whose pixel (y, x) holds 10 * y + x + 1 (0 never appears).
at::Tensor ramp(int64_t batch, int64_t h, int64_t w) {
  const at::Tensor one = (at::arange(h).view({h, 1}) * 10 + at::arange(w).view({1, w}) + 1)
                             .to(at::kByte)
                             .view({1, 1, h, w});
  return one.expand({batch, 1, h, w}).contiguous();
}

TEST(Augmenter, DisabledReturnsTheInput) {
  const Augmenter none(config::AugmentationConfig{});
  EXPECT_FALSE(none.enabled());
  const at::Tensor x = ramp(2, 3, 4);
  EXPECT_TRUE(none(x, 1).equal(x));
}

TEST(Augmenter, FlipMirrorsSomeImagesAndKeepsTheOthers) {
  config::AugmentationConfig c;
  c.horizontal_flip = true;
  const at::Tensor x = ramp(64, 3, 4);
  const at::Tensor y = Augmenter(c)(x, 7);
  int flipped = 0;
  for (int64_t b = 0; b < 64; ++b) {
    const bool same = y[b].equal(x[b]);
    const bool mirrored = y[b].equal(x[b].flip(2));
    EXPECT_TRUE(same || mirrored) << b;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 16);  // about half of 64
  EXPECT_LT(flipped, 48);
  EXPECT_TRUE(Augmenter(c)(x, 7).equal(y));    // same seed, same result
  EXPECT_FALSE(Augmenter(c)(x, 8).equal(y));   // another seed differs
}

TEST(Augmenter, CropWithPaddingShiftsWholeImagesAndFillsZeros) {
  config::AugmentationConfig c;
  c.random_crop_padding = 2;
  const int64_t h = 5;
  const int64_t w = 6;
  const at::Tensor x = ramp(32, h, w);
  const at::Tensor y = Augmenter(c)(x, 3);
  ASSERT_EQ(y.sizes(), x.sizes());
  int shifted = 0;
  for (int64_t b = 0; b < 32; ++b) {
    // Find the shift (dy, dx) in [-2, 2]^2 that explains the output: y(i, j) = x(i+dy, j+dx)
    // inside the image and 0 outside.
    bool explained = false;
    for (int64_t dy = -2; dy <= 2 && !explained; ++dy) {
      for (int64_t dx = -2; dx <= 2 && !explained; ++dx) {
        bool ok = true;
        for (int64_t i = 0; i < h && ok; ++i) {
          for (int64_t j = 0; j < w && ok; ++j) {
            const int64_t si = i + dy;
            const int64_t sj = j + dx;
            const int64_t want = (si >= 0 && si < h && sj >= 0 && sj < w) ? 10 * si + sj + 1 : 0;
            ok = y[b][0][i][j].item<int64_t>() == want;
          }
        }
        if (ok) {
          explained = true;
          shifted += (dy != 0 || dx != 0);
        }
      }
    }
    EXPECT_TRUE(explained) << "image " << b << " is not a shifted copy";
  }
  EXPECT_GT(shifted, 16);  // 24 of 25 shifts are non-zero
}

}  // namespace
}  // namespace moedil::data
