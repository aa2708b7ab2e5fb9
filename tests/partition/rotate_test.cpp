#include "moedil/partition/rotate.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {
namespace {

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// A 1x1x5x5 black image with one pixel (row, col) at 255.
at::Tensor single_pixel(int64_t row, int64_t col) {
  at::Tensor im = at::zeros({1, 1, 5, 5}, at::kByte);
  im[0][0][row][col] = 255;
  return im;
}

/// (row, col) of the brightest pixel of a [1, 1, H, W] image.
std::pair<int64_t, int64_t> brightest(const at::Tensor& im) {
  const int64_t w = im.size(3);
  const int64_t flat = im.flatten().argmax().item<int64_t>();
  return {flat / w, flat % w};
}

/// Intensity-weighted centre (row, col) of a [1, 1, H, W] image.
std::pair<double, double> centroid(const at::Tensor& im) {
  const at::Tensor x = im[0][0].to(at::kDouble);
  const double total = x.sum().item<double>();
  const at::Tensor rows = at::arange(x.size(0), at::kDouble).view({-1, 1});
  const at::Tensor cols = at::arange(x.size(1), at::kDouble).view({1, -1});
  return {(x * rows).sum().item<double>() / total, (x * cols).sum().item<double>() / total};
}

data::Dataset random_dataset(int64_t n) {
  data::Dataset d;
  d.name = "random";
  at::manual_seed(0);
  d.images = at::randint(0, 256, {n, 1, 5, 5}, at::kLong).to(at::kByte);
  d.labels = at::arange(n, at::kLong).remainder(3);
  d.num_classes = 3;
  return d;
}

TEST(RotateImagesTest, ZeroDegreesReturnsInput) {
  const at::Tensor im = random_dataset(3).images;
  const at::Tensor out = rotate_images(im, 0.0);
  EXPECT_TRUE(out.equal(im));
  EXPECT_EQ(out.scalar_type(), at::kByte);
}

TEST(RotateImagesTest, KeepsShapeAndType) {
  const at::Tensor im = at::zeros({4, 2, 6, 6}, at::kByte);
  const at::Tensor out = rotate_images(im, 30.0);
  EXPECT_EQ(out.sizes(), im.sizes());
  EXPECT_EQ(out.scalar_type(), at::kByte);
  EXPECT_TRUE(out.is_contiguous());
  EXPECT_TRUE(out.eq(0).all().item<bool>());
}

TEST(RotateImagesTest, NinetyDegreesTurnsTopLeftToBottomLeft) {
  // Counter-clockwise on screen: (row 1, col 1) -> (row 3, col 1) in a 5x5 image.
  const at::Tensor out = rotate_images(single_pixel(1, 1), 90.0);
  EXPECT_EQ(brightest(out), (std::pair<int64_t, int64_t>{3, 1}));
  EXPECT_GE(out[0][0][3][1].item<int64_t>(), 250);
  EXPECT_LE(out.to(at::kLong).sum().item<int64_t>(), 260) << "the pixel moved, not smeared";
}

TEST(RotateImagesTest, NinetyDegreesMovesTopEdgeToLeftEdge) {
  // (row 0, col 2), top middle -> (row 2, col 0), left middle.
  const at::Tensor out = rotate_images(single_pixel(0, 2), 90.0);
  EXPECT_EQ(brightest(out), (std::pair<int64_t, int64_t>{2, 0}));
  EXPECT_GE(out[0][0][2][0].item<int64_t>(), 250);
}

TEST(RotateImagesTest, OneEightyDegreesTurnsTopLeftToBottomRight) {
  const at::Tensor out = rotate_images(single_pixel(1, 1), 180.0);
  EXPECT_EQ(brightest(out), (std::pair<int64_t, int64_t>{3, 3}));
  EXPECT_GE(out[0][0][3][3].item<int64_t>(), 250);
}

TEST(RotateImagesTest, TwoSeventyDegreesTurnsTopLeftToTopRight) {
  const at::Tensor out = rotate_images(single_pixel(1, 1), 270.0);
  EXPECT_EQ(brightest(out), (std::pair<int64_t, int64_t>{1, 3}));
  EXPECT_GE(out[0][0][1][3].item<int64_t>(), 250);
}

TEST(RotateImagesTest, NegativeAngleIsClockwise) {
  const at::Tensor out = rotate_images(single_pixel(1, 1), -90.0);
  EXPECT_EQ(brightest(out), (std::pair<int64_t, int64_t>{1, 3}));
}

TEST(RotateImagesTest, FortyFiveDegreesMovesUpperLeftToLeftMiddle) {
  // A 3x3 blob centred on (row 3, col 3) of a 9x9 image sits at offset (-1, -1) from the image
  // centre (4, 4); 45 degrees counter-clockwise takes it to offset (0, -sqrt 2): row 4,
  // col 4 - 1.414 = 2.586.
  at::Tensor im = at::zeros({1, 1, 9, 9}, at::kByte);
  im[0][0].slice(0, 2, 5).slice(1, 2, 5).fill_(255);
  const at::Tensor out = rotate_images(im, 45.0);
  const auto [r, c] = centroid(out);
  EXPECT_NEAR(r, 4.0, 0.2);
  EXPECT_NEAR(c, 4.0 - 1.41421356, 0.2);
}

TEST(RotateImagesTest, ThreeSixtyIsApproximatelyIdentity) {
  const at::Tensor im = random_dataset(4).images;
  const at::Tensor out = rotate_images(im, 360.0);
  const int64_t max_diff = (out.to(at::kLong) - im.to(at::kLong)).abs().max().item<int64_t>();
  EXPECT_LE(max_diff, 1);
}

TEST(RotateImagesTest, FourQuarterTurnsAreIdentity) {
  const at::Tensor im = random_dataset(2).images;
  at::Tensor out = im;
  for (int k = 0; k < 4; ++k) out = rotate_images(out, 90.0);
  EXPECT_TRUE(out.equal(im));
}

TEST(RotateImagesTest, BatchAndChannelsAreRotatedIndependently) {
  at::Tensor im = at::zeros({2, 2, 5, 5}, at::kByte);
  im[0][0][1][1] = 255;  // -> (3, 1)
  im[0][1][0][2] = 200;  // -> (2, 0)
  im[1][0][1][3] = 100;  // top right -> top left (1, 1)
  const at::Tensor out = rotate_images(im, 90.0);
  EXPECT_GE(out[0][0][3][1].item<int64_t>(), 250);
  EXPECT_GE(out[0][1][2][0].item<int64_t>(), 195);
  EXPECT_GE(out[1][0][1][1].item<int64_t>(), 95);
  EXPECT_TRUE(out[1][1].eq(0).all().item<bool>());
  EXPECT_EQ(out.to(at::kLong).sum().item<int64_t>(), 555);
}

TEST(RotateImagesTest, EmptyBatch) {
  const at::Tensor im = at::zeros({0, 1, 5, 5}, at::kByte);
  EXPECT_EQ(rotate_images(im, 90.0).size(0), 0);
}

config::RunConfig rotate_config(std::vector<double> angles, double train_frac, int64_t seed) {
  config::RunConfig c;
  c.partition.type = "rotate";
  c.partition.angles = std::move(angles);
  c.num_partitions = static_cast<int64_t>(c.partition.angles.size());
  c.train_frac = train_frac;
  c.seeds.partition = seed;
  return c;
}

TEST(RotateDomainsTest, OneDomainPerAngleWithNames) {
  const data::Dataset d = random_dataset(10);
  const std::vector<Domain> domains = rotate_domains(d, rotate_config({0, 90, 180, 22.5}, 0.8, 0));
  ASSERT_EQ(domains.size(), 4u);
  EXPECT_EQ(domains[0].name, "rot0");
  EXPECT_EQ(domains[1].name, "rot90");
  EXPECT_EQ(domains[2].name, "rot180");
  EXPECT_EQ(domains[3].name, "rot22.5");
  EXPECT_TRUE(domains[0].images.equal(d.images));
  EXPECT_TRUE(domains[1].images.equal(rotate_images(d.images, 90)));
  EXPECT_TRUE(domains[2].images.equal(rotate_images(d.images, 180)));
  EXPECT_FALSE(domains[1].images.equal(d.images));
  for (const Domain& dom : domains) {
    EXPECT_EQ(dom.images.sizes(), d.images.sizes());
    EXPECT_TRUE(dom.labels.equal(d.labels));
  }
}

TEST(RotateDomainsTest, SameSplitForAllDomains) {
  const data::Dataset d = random_dataset(10);
  const std::vector<Domain> domains = rotate_domains(d, rotate_config({0, 30, 60}, 0.8, 3));
  ASSERT_EQ(domains.size(), 3u);
  for (const Domain& dom : domains) {
    EXPECT_EQ(to_vector(dom.train_idx), to_vector(domains[0].train_idx)) << dom.name;
    EXPECT_EQ(to_vector(dom.test_idx), to_vector(domains[0].test_idx)) << dom.name;
  }
}

TEST(RotateDomainsTest, SplitSizesFollowTrainFracRounded) {
  const data::Dataset d = random_dataset(10);
  // 0.75 * 10 = 7.5 -> 8 train, 2 test.
  std::vector<Domain> domains = rotate_domains(d, rotate_config({0, 90}, 0.75, 0));
  EXPECT_EQ(domains[0].train_idx.numel(), 8);
  EXPECT_EQ(domains[0].test_idx.numel(), 2);
  // 0.64 * 10 = 6.4 -> 6 train, 4 test.
  domains = rotate_domains(d, rotate_config({0, 90}, 0.64, 0));
  EXPECT_EQ(domains[0].train_idx.numel(), 6);
  EXPECT_EQ(domains[0].test_idx.numel(), 4);
}

TEST(RotateDomainsTest, TrainAndTestDisjointAndCoverAll) {
  const data::Dataset d = random_dataset(20);
  const std::vector<Domain> domains = rotate_domains(d, rotate_config({0, 45}, 0.7, 1));
  const std::vector<int64_t> train = to_vector(domains[0].train_idx);
  const std::vector<int64_t> test = to_vector(domains[0].test_idx);
  EXPECT_EQ(train.size(), 14u);
  EXPECT_EQ(test.size(), 6u);
  EXPECT_EQ(domains[0].train_idx.scalar_type(), at::kLong);
  std::vector<int64_t> both = train;
  both.insert(both.end(), test.begin(), test.end());
  std::sort(both.begin(), both.end());
  std::vector<int64_t> all(20);
  for (int64_t i = 0; i < 20; ++i) all[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(both, all);  // each row exactly once, so disjoint and covering
}

TEST(RotateDomainsTest, SplitDeterministicPerSeed) {
  const data::Dataset d = random_dataset(20);
  const auto a = rotate_domains(d, rotate_config({0}, 0.8, 11));
  const auto b = rotate_domains(d, rotate_config({0}, 0.8, 11));
  EXPECT_EQ(to_vector(a[0].train_idx), to_vector(b[0].train_idx));
  EXPECT_EQ(to_vector(a[0].test_idx), to_vector(b[0].test_idx));
  const auto other = rotate_domains(d, rotate_config({0}, 0.8, 12));
  const std::vector<int64_t> ta = to_vector(a[0].test_idx);
  const std::vector<int64_t> to = to_vector(other[0].test_idx);
  EXPECT_NE(std::set<int64_t>(ta.begin(), ta.end()), std::set<int64_t>(to.begin(), to.end()));
}

TEST(RotateDomainsTest, SplitDoesNotDependOnAngles) {
  const data::Dataset d = random_dataset(20);
  const auto a = rotate_domains(d, rotate_config({0, 30}, 0.8, 5));
  const auto b = rotate_domains(d, rotate_config({90, 60, 10}, 0.8, 5));
  EXPECT_EQ(to_vector(a[0].test_idx), to_vector(b[2].test_idx));
}

}  // namespace
}  // namespace moedil::partition

namespace moedil::partition {
namespace {

TEST(RotateImagesNonSquare, QuarterTurnRotatesInPixelUnits) {
  // 5x9 image, a pixel 2 columns right of the centre (2, 4). A counter-clockwise quarter turn
  // in pixel units puts it 2 rows above the centre: (0, 4). Rotating in normalised units
  // instead would stretch the offset by H/W and land near row 1.
  at::Tensor image = at::zeros({1, 1, 5, 9}, at::kByte);
  image[0][0][2][6] = 255;
  const at::Tensor rotated = rotate_images(image, 90.0);
  const int64_t brightest = rotated.flatten().argmax().item<int64_t>();
  EXPECT_EQ(brightest / 9, 0);
  EXPECT_EQ(brightest % 9, 4);
}

}  // namespace
}  // namespace moedil::partition
