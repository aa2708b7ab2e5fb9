#include "moedil/data/augment.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "moedil/common/error.h"

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

config::AugmentationConfig with(void (*set)(config::AugmentationConfig&)) {
  config::AugmentationConfig c;
  set(c);
  return c;
}

// RandomResizedCrop(S, scale (0.8, 1), ratio (1, 1)) on images whose pixel value is its column
// x: a crop of side w at column j resized back is, away from the clamped edges, the affine map
// x -> j + w (x + 0.5) / S - 0.5. Each image's slope gives w (sqrt(0.8) S <= w <= S), its
// intercept j (an integer in [0, S - w]); every row of an image is the same.
TEST(Augmenter, RandomResizedCropIsABilinearResizeOfASquareOfAtLeast80PercentArea) {
  const int64_t side = 20, batch = 32;
  const at::Tensor x = at::arange(side).to(at::kByte).view({1, 1, 1, side}).expand(
      {batch, 1, side, side}).contiguous();
  const Augmenter a(with([](auto& c) { c.random_resize_crop = true; }));
  const at::Tensor y = a(x, 5);
  ASSERT_EQ(y.sizes(), x.sizes());
  ASSERT_EQ(y.scalar_type(), at::kFloat);
  std::set<int64_t> widths;
  for (int64_t b = 0; b < batch; ++b) {
    EXPECT_TRUE(y[b][0].sub(y[b][0][0].unsqueeze(0)).abs().max().item<float>() < 1e-4) << b;
    const double slope = (y[b][0][0][side - 2] - y[b][0][0][1]).item<double>() / (side - 3);
    const double w = slope * side;
    EXPECT_NEAR(w, std::round(w), 1e-3) << b;
    EXPECT_GE(std::round(w), std::floor(std::sqrt(0.8) * side)) << b;
    EXPECT_LE(std::round(w), side) << b;
    const double j = y[b][0][0][1].item<double>() - std::round(w) * 1.5 / side + 0.5;
    EXPECT_NEAR(j, std::round(j), 1e-3) << b;
    EXPECT_GE(std::round(j), 0.0);
    EXPECT_LE(std::round(j) + std::round(w), side);
    widths.insert(std::llround(w));
  }
  EXPECT_GT(widths.size(), 1u);  // the area is drawn per image
  EXPECT_TRUE(a(x, 5).equal(y));
}

// GaussianBlur(3, sigma in [0.1, 2]) on a centred impulse: the separable kernel (e, 1, e) /
// (1 + 2e) gives centre c^2, edge neighbours c s, corners s^2, and keeps the sum.
TEST(Augmenter, BlurSpreadsAnImpulseByASeparableThreeTapGaussian) {
  at::Tensor x = at::zeros({16, 1, 5, 5}, at::kByte);
  x.select(2, 2).select(2, 2).fill_(255);
  const at::Tensor y = Augmenter(with([](auto& c) { c.blur = true; }))(x, 9);
  for (int64_t b = 0; b < 16; ++b) {
    const at::Tensor img = y[b][0];
    const double centre = img[2][2].item<double>(), edge = img[2][1].item<double>();
    const double corner = img[1][1].item<double>();
    EXPECT_NEAR(img.sum().item<double>(), 255.0, 1e-3) << b;
    EXPECT_NEAR(corner, edge * edge / centre, 1e-3) << b;
    EXPECT_NEAR(img[1][2].item<double>(), edge, 1e-4) << b;
    // centre / edge = 1 / e with e = exp(-1 / (2 sigma^2)), sigma <= 2: at least exp(1/8).
    EXPECT_GE(centre / std::max(edge, 1e-30), std::exp(0.125) - 1e-6) << b;
    EXPECT_EQ(img[0][2].item<double>(), 0.0);  // a 3-tap kernel reaches one pixel
  }
}

// ColorJitter on one-channel images: brightness scales by [0.8, 1.2] and contrast blends with
// the image's own mean, so a flat image stays flat at value * brightness. On grey RGB images
// saturation and hue change nothing: they stay grey.
TEST(Augmenter, ColorJitterScalesBrightnessAndKeepsGreyGrey) {
  const at::Tensor flat = at::full({64, 1, 4, 4}, 100, at::kByte);
  const at::Tensor y = Augmenter(with([](auto& c) { c.color_jitter = true; }))(flat, 3);
  std::set<int64_t> levels;
  for (int64_t b = 0; b < 64; ++b) {
    const double v = y[b][0][0][0].item<double>();
    EXPECT_NEAR((y[b] - v).abs().max().item<double>(), 0.0, 1e-3) << b;
    EXPECT_GE(v, 80.0 - 1e-3);
    EXPECT_LE(v, 120.0 + 1e-3);
    levels.insert(std::llround(v));
  }
  EXPECT_GT(levels.size(), 8u);
  const at::Tensor grey = at::randint(0, 256, {32, 1, 6, 6}).to(at::kByte).expand(
      {32, 3, 6, 6}).contiguous();
  const at::Tensor g = Augmenter(with([](auto& c) { c.color_jitter = true; }))(grey, 4);
  EXPECT_LT((g.select(1, 0) - g.select(1, 1)).abs().max().item<double>(), 1e-2);
  EXPECT_LT((g.select(1, 0) - g.select(1, 2)).abs().max().item<double>(), 1e-2);
  EXPECT_GT((g - grey.to(at::kFloat)).abs().max().item<double>(), 1.0);
  EXPECT_LE(g.max().item<double>(), 255.0 + 1e-3);
}

// Noise N(0, 0.01^2) on the [0, 1] scale: 2.55 on 0..255, not clamped, the same per seed.
TEST(Augmenter, NoiseHasStdOnePercentAndIsNotClamped) {
  const at::Tensor x = at::zeros({8, 3, 16, 16}, at::kByte);
  const Augmenter a(with([](auto& c) { c.noise = true; }));
  const at::Tensor y = a(x, 11);
  EXPECT_NEAR(y.std().item<double>(), 2.55, 0.1);
  EXPECT_NEAR(y.mean().item<double>(), 0.0, 0.1);
  EXPECT_LT(y.min().item<double>(), 0.0);
  EXPECT_TRUE(a(x, 11).equal(y));
  EXPECT_FALSE(a(x, 12).equal(y));
}

// The predecessor's crop side (augmentation.resize) must be the images': moedil trains and
// tests at one size.
TEST(Augmenter, ACropSideOtherThanTheImagesIsRefused) {
  config::AugmentationConfig c;
  c.random_crop_padding = 4;
  c.crop_size = 32;
  try {
    Augmenter{c}(ramp(2, 8, 8), 1);
    FAIL() << "a 32-pixel crop of 8x8 images accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("augmentation.resize is 32 but the images are 8x8"),
              std::string::npos)
        << e.what();
  }
  c.crop_size = 8;
  EXPECT_EQ(Augmenter{c}(ramp(2, 8, 8), 1).sizes(), (at::IntArrayRef{2, 1, 8, 8}));
  c.crop_size = 0;  // moedil's: the images' side
  EXPECT_NO_THROW(Augmenter{c}(ramp(2, 8, 8), 1));
  c.random_resize_crop = true;
  EXPECT_THROW(Augmenter{c}(ramp(2, 8, 6), 1), ConfigError);  // needs square images
}

}  // namespace
}  // namespace moedil::data
