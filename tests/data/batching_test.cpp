#include "moedil/data/batching.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/data/dataset.h"

namespace moedil::data {
namespace {

// 7 images of 1x1x2 pixels, both pixels equal to 10 * row; labels 100 + row.
constexpr int64_t kRows = 7;

at::Tensor row_images() {
  return (at::arange(kRows, at::kLong) * 10).to(at::kByte).view({kRows, 1, 1, 1})
      .expand({kRows, 1, 1, 2})
      .contiguous();
}

at::Tensor row_labels() { return at::arange(kRows, at::kLong) + 100; }

Normalizer identity_normalizer() { return Normalizer({0.0}, {1.0}, at::kCPU); }

Batches make_batches(const std::vector<int64_t>& indices, int64_t batch_size) {
  return Batches(row_images(), row_labels(), index_tensor(indices), batch_size,
                 identity_normalizer());
}

/// The rows of every batch, in order, read back from the images (x / 255 * 255 / 10), checking
/// that the labels follow their images.
std::vector<int64_t> all_rows(const Batches& b) {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < b.num_batches(); ++i) {
    const auto [x, y] = b.get(i);
    EXPECT_EQ(x.scalar_type(), at::kFloat);
    EXPECT_EQ(y.scalar_type(), at::kLong);
    EXPECT_EQ(x.size(0), y.size(0));
    for (int64_t k = 0; k < x.size(0); ++k) {
      const float v = x[k][0][0][0].item<float>();
      const auto row = static_cast<int64_t>(std::lround(v * 255.0 / 10.0));
      EXPECT_NEAR(v, row * 10 / 255.0, 1e-6);
      EXPECT_FLOAT_EQ(x[k][0][0][1].item<float>(), v);
      EXPECT_EQ(y[k].item<int64_t>(), 100 + row) << "label does not follow its image";
      rows.push_back(row);
    }
  }
  return rows;
}

TEST(NormalizerTest, MapsZeroAnd255ToHandValues) {
  // (x / 255 - 0.5) / 0.25: 0 -> -2, 255 -> 2, 51 -> (0.2 - 0.5) / 0.25 = -1.2.
  const Normalizer n({0.5}, {0.25}, at::kCPU);
  const at::Tensor x = at::tensor(std::vector<int64_t>{0, 255, 51}, at::kLong)
                           .to(at::kByte)
                           .view({1, 1, 1, 3});
  const at::Tensor y = n(x);
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_NEAR(y[0][0][0][0].item<float>(), -2.0, 1e-5);
  EXPECT_NEAR(y[0][0][0][1].item<float>(), 2.0, 1e-5);
  EXPECT_NEAR(y[0][0][0][2].item<float>(), -1.2, 1e-5);
  // The input is untouched.
  EXPECT_EQ(x.scalar_type(), at::kByte);
  EXPECT_EQ(x[0][0][0][1].item<int64_t>(), 255);
}

TEST(NormalizerTest, PerChannel) {
  // channel 0: mean 0.5, std 0.25 -> 0: -2, 255: 2.
  // channel 1: mean 0.2, std 0.4  -> 0: -0.5, 255: 2, 51: 0.
  const Normalizer n({0.5, 0.2}, {0.25, 0.4}, at::kCPU);
  const at::Tensor x = at::tensor(std::vector<int64_t>{0, 255, 0, 255, 51, 51}, at::kLong)
                           .to(at::kByte)
                           .view({1, 2, 1, 3});
  // channel 0 row: 0, 255, 0; channel 1 row: 255, 51, 51.
  const at::Tensor y = n(x);
  const std::vector<float> expected{-2.0f, 2.0f, -2.0f, 2.0f, 0.0f, 0.0f};
  const at::Tensor flat = y.flatten().contiguous();
  ASSERT_EQ(flat.numel(), 6);
  for (int64_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(flat[i].item<float>(), expected[static_cast<std::size_t>(i)], 1e-5) << i;
  }
}

TEST(NormalizerTest, BatchOfSeveralImages) {
  const Normalizer n({0.0}, {0.5}, at::kCPU);  // x / 255 / 0.5
  const at::Tensor x = at::full({3, 1, 2, 2}, 255, at::kByte);
  EXPECT_TRUE(at::allclose(n(x), at::full({3, 1, 2, 2}, 2.0, at::kFloat)));
}

// The one-pass CPU normalisation gives ATen's to(float).mul(scale).sub_(shift), bit for bit:
// one channel, three, a batch above kNormalizeGrain values (in pieces), and a non-contiguous
// batch (ATen's own ops).
TEST(NormalizerTest, SameBitsAsAtensOps) {
  at::manual_seed(7);
  const Normalizer gray({0.2860}, {0.3530}, at::kCPU);
  const Normalizer rgb({0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}, at::kCPU);
  const auto aten = [](const at::Tensor& x, const std::vector<double>& mean,
                       const std::vector<double>& sd) {
    std::vector<float> scale, shift;
    for (std::size_t c = 0; c < mean.size(); ++c) {
      scale.push_back(static_cast<float>(1.0 / (255.0 * sd[c])));
      shift.push_back(static_cast<float>(mean[c] / sd[c]));
    }
    const auto channels = static_cast<int64_t>(mean.size());
    return x.to(at::kFloat)
        .mul(at::tensor(scale).view({1, channels, 1, 1}))
        .sub_(at::tensor(shift).view({1, channels, 1, 1}));
  };
  const at::Tensor small = at::randint(256, {5, 1, 28, 28}, at::kByte);
  EXPECT_TRUE(at::equal(gray(small), aten(small, {0.2860}, {0.3530})));
  const at::Tensor big = at::randint(256, {8, 3, 128, 128}, at::kByte);
  ASSERT_GT(big.numel(), kNormalizeGrain);
  const std::vector<double> mean{0.485, 0.456, 0.406};
  const std::vector<double> sd{0.229, 0.224, 0.225};
  EXPECT_TRUE(at::equal(rgb(big), aten(big, mean, sd)));
  const at::Tensor strided = big.transpose(2, 3);
  ASSERT_FALSE(strided.is_contiguous());
  EXPECT_TRUE(at::equal(rgb(strided), aten(strided, mean, sd)));
  // One channel's statistics for a three-channel batch: the same for each channel.
  EXPECT_TRUE(at::equal(gray(big), aten(big, {0.2860}, {0.3530})));
}

TEST(NormalizerTest, RejectsBadStatistics) {
  EXPECT_THROW(Normalizer({}, {}, at::kCPU), Error);
  EXPECT_THROW(Normalizer({0.5, 0.5}, {1.0}, at::kCPU), Error);
}

TEST(BatchesTest, NumBatchesWithPartialLastBatch) {
  EXPECT_EQ(make_batches({6, 0, 3, 5, 2}, 2).num_batches(), 3);
  EXPECT_EQ(make_batches({6, 0, 3, 5, 2}, 2).num_samples(), 5);
  EXPECT_EQ(make_batches({6, 0, 3, 5}, 2).num_batches(), 2);
  EXPECT_EQ(make_batches({6, 0, 3, 5, 2}, 5).num_batches(), 1);
  EXPECT_EQ(make_batches({6, 0, 3, 5, 2}, 64).num_batches(), 1);
  EXPECT_EQ(make_batches({6, 0, 3, 5, 2}, 1).num_batches(), 5);
  EXPECT_EQ(make_batches({}, 3).num_batches(), 0);
}

TEST(BatchesTest, BatchSizes) {
  const Batches b = make_batches({6, 0, 3, 5, 2}, 2);
  EXPECT_EQ(b.get(0).first.sizes(), (at::IntArrayRef{2, 1, 1, 2}));
  EXPECT_EQ(b.get(1).first.size(0), 2);
  EXPECT_EQ(b.get(2).first.size(0), 1);
  EXPECT_EQ(b.get(2).second.size(0), 1);
}

TEST(BatchesTest, InOrderCoversIndicesOnce) {
  const Batches b = make_batches({6, 0, 3, 5, 2}, 2);
  EXPECT_EQ(all_rows(b), (std::vector<int64_t>{6, 0, 3, 5, 2}));
}

TEST(BatchesTest, NormalisesWithItsNormalizer) {
  Batches b(row_images(), row_labels(), index_tensor({3}), 4, Normalizer({0.5}, {0.25}, at::kCPU));
  const auto [x, y] = b.get(0);
  // 30 / 255 -> (30 / 255 - 0.5) / 0.25.
  EXPECT_NEAR(x[0][0][0][0].item<float>(), (30.0 / 255.0 - 0.5) / 0.25, 1e-5);
  EXPECT_EQ(y[0].item<int64_t>(), 103);
}

// A batch is the same, bit for bit, whether its rows are gathered on the host (contiguous CPU
// tensors) or by index_select (here forced by a non-contiguous image tensor).
TEST(BatchesTest, HostGatherEqualsIndexSelect) {
  at::manual_seed(8);
  const at::Tensor images = at::randint(256, {20, 3, 4, 5}, at::kByte);
  const at::Tensor labels = at::randint(10, {20}, at::kLong);
  const std::vector<int64_t> indices{17, 2, 9, 9, 0, 19, 4};
  const Normalizer norm({0.5, 0.4, 0.3}, {0.2, 0.25, 0.3}, at::kCPU);
  Batches host(images, labels, index_tensor(indices), 3, norm);
  // The same values, stored transposed: not contiguous.
  const at::Tensor strided = images.transpose(2, 3).contiguous().transpose(2, 3);
  ASSERT_FALSE(strided.is_contiguous());
  Batches selected(strided, labels, index_tensor(indices), 3, norm);
  host.shuffle(5);
  selected.shuffle(5);
  for (int64_t b = 0; b < host.num_batches(); ++b) {
    const auto [x, y] = host.get(b);
    const auto [xs, ys] = selected.get(b);
    EXPECT_TRUE(at::equal(x, xs)) << b;
    EXPECT_TRUE(at::equal(y, ys)) << b;
    const at::Tensor rows = index_tensor(host.host_rows(b));
    EXPECT_TRUE(at::equal(y, labels.index_select(0, rows))) << b;
  }
  // With a transform: applied to the gathered uint8 batch.
  const auto flip = [](const at::Tensor& u8) { return u8.flip({3}); };
  EXPECT_TRUE(at::equal(host.get(1, flip).first, selected.get(1, flip).first));
}

TEST(BatchesTest, RowOutsideTheDataIsAnError) {
  const Batches b = make_batches({2, 99}, 2);
  try {
    (void)b.get(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 99 is outside the 7 rows"), std::string::npos)
        << e.what();
  }
}

TEST(BatchesTest, ShuffleIsAPermutationOfTheIndices) {
  const std::vector<int64_t> indices{6, 0, 3, 5, 2};
  Batches b = make_batches(indices, 2);
  b.shuffle(9);
  EXPECT_EQ(b.num_samples(), 5);
  EXPECT_EQ(b.num_batches(), 3);
  std::vector<int64_t> rows = all_rows(b);
  // The order is indices permuted by random_permutation(5, 9).
  std::vector<int64_t> expected;
  for (int64_t p : random_permutation(5, 9)) expected.push_back(indices[static_cast<std::size_t>(p)]);
  EXPECT_EQ(rows, expected);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 2, 3, 5, 6}));
}

TEST(BatchesTest, ShuffleDeterministicPerSeed) {
  const std::vector<int64_t> indices{0, 1, 2, 3, 4, 5, 6};
  Batches a = make_batches(indices, 3);
  Batches b = make_batches(indices, 3);
  a.shuffle(4);
  b.shuffle(4);
  const std::vector<int64_t> first = all_rows(a);
  EXPECT_EQ(first, all_rows(b));
  // Shuffling restarts from the given order: another seed then the same seed again gives the
  // same order as before.
  a.shuffle(5);
  a.shuffle(4);
  EXPECT_EQ(all_rows(a), first);
}

TEST(BatchesTest, DifferentSeedsGiveDifferentOrders) {
  const std::vector<int64_t> indices{0, 1, 2, 3, 4, 5, 6};
  Batches b = make_batches(indices, 3);
  b.shuffle(1);
  const std::vector<int64_t> one = all_rows(b);
  b.shuffle(2);
  const std::vector<int64_t> two = all_rows(b);
  b.shuffle(3);
  const std::vector<int64_t> three = all_rows(b);
  EXPECT_NE(one, two);
  EXPECT_NE(one, three);
  EXPECT_NE(two, three);
  for (auto rows : {one, two, three}) {
    std::sort(rows.begin(), rows.end());
    EXPECT_EQ(rows, indices);
  }
}

TEST(BatchesTest, RejectsNonPositiveBatchSize) {
  EXPECT_THROW(make_batches({0, 1}, 0), Error);
  EXPECT_THROW(make_batches({0, 1}, -3), Error);
}

}  // namespace
}  // namespace moedil::data
