#include "moedil/data/dataset.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <set>
#include <vector>

#include "moedil/common/random.h"

namespace moedil::data {
namespace {

/// n samples of 1x2x2 images whose four pixels all equal the row index, labels 100 + row,
/// domain ids row % 3.
Dataset make_indexed(int64_t n, bool with_domains = true) {
  Dataset d;
  d.name = "indexed";
  d.images = at::arange(n, at::kLong).to(at::kByte).view({n, 1, 1, 1}).expand({n, 1, 2, 2})
                 .contiguous();
  d.labels = at::arange(n, at::kLong) + 100;
  if (with_domains) {
    d.domain_ids = at::arange(n, at::kLong).remainder(3);
    d.domain_names = {"a", "b", "c"};
  }
  d.num_classes = 100 + n;
  return d;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// The row index stored in each image (checks that all its pixels agree).
std::vector<int64_t> image_rows(const Dataset& d) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < d.size(); ++i) {
    const at::Tensor im = d.images[i];
    const auto v = im.flatten()[0].item<int64_t>();
    EXPECT_TRUE(im.eq(v).all().item<bool>()) << "image " << i << " is not uniform";
    out.push_back(v);
  }
  return out;
}

TEST(DatasetTest, SizeAndShapeAccessors) {
  const Dataset d = make_indexed(5);
  EXPECT_EQ(d.size(), 5);
  EXPECT_EQ(d.channels(), 1);
  EXPECT_EQ(d.height(), 2);
  EXPECT_EQ(d.width(), 2);
  EXPECT_TRUE(d.has_domains());
  EXPECT_FALSE(make_indexed(5, false).has_domains());
  EXPECT_EQ(Dataset{}.size(), 0);
}

TEST(DatasetTest, IndexTensor) {
  const at::Tensor t = index_tensor({4, 0, 2});
  EXPECT_EQ(t.scalar_type(), at::kLong);
  EXPECT_EQ(t.device().type(), at::kCPU);
  EXPECT_EQ(to_vector(t), (std::vector<int64_t>{4, 0, 2}));
  EXPECT_EQ(index_tensor({}).numel(), 0);
}

TEST(DatasetTest, SubsetKeepsMatchingRows) {
  const Dataset d = make_indexed(6);
  const Dataset s = subset(d, index_tensor({4, 1, 1, 5}));
  ASSERT_EQ(s.size(), 4);
  EXPECT_EQ(s.images.sizes(), (at::IntArrayRef{4, 1, 2, 2}));
  EXPECT_EQ(s.images.scalar_type(), at::kByte);
  EXPECT_TRUE(s.images.is_contiguous());
  EXPECT_EQ(image_rows(s), (std::vector<int64_t>{4, 1, 1, 5}));
  EXPECT_EQ(to_vector(s.labels), (std::vector<int64_t>{104, 101, 101, 105}));
  ASSERT_TRUE(s.has_domains());
  EXPECT_EQ(to_vector(s.domain_ids), (std::vector<int64_t>{1, 1, 1, 2}));
  // Metadata is carried over.
  EXPECT_EQ(s.name, "indexed");
  EXPECT_EQ(s.num_classes, d.num_classes);
  EXPECT_EQ(s.domain_names, d.domain_names);
  // The source is untouched.
  EXPECT_EQ(d.size(), 6);
  EXPECT_EQ(image_rows(d), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(DatasetTest, SubsetWithoutDomains) {
  const Dataset d = make_indexed(4, false);
  const Dataset s = subset(d, index_tensor({3, 0}));
  EXPECT_FALSE(s.has_domains());
  EXPECT_EQ(image_rows(s), (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(to_vector(s.labels), (std::vector<int64_t>{103, 100}));
}

TEST(DatasetTest, SubsampleKeepsCountDistinctRows) {
  const Dataset d = make_indexed(20);
  const Dataset s = subsample(d, 7, 11);
  ASSERT_EQ(s.size(), 7);
  const std::vector<int64_t> rows = image_rows(s);
  EXPECT_EQ(std::set<int64_t>(rows.begin(), rows.end()).size(), 7u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_GE(rows[i], 0);
    EXPECT_LT(rows[i], 20);
    // Labels and domain ids follow their images.
    EXPECT_EQ(s.labels[static_cast<int64_t>(i)].item<int64_t>(), 100 + rows[i]);
    EXPECT_EQ(s.domain_ids[static_cast<int64_t>(i)].item<int64_t>(), rows[i] % 3);
  }
  // The rows are the first 7 of the seeded permutation.
  std::vector<int64_t> expected = random_permutation(20, 11);
  expected.resize(7);
  EXPECT_EQ(rows, expected);
}

TEST(DatasetTest, SubsampleDeterministicPerSeed) {
  const Dataset d = make_indexed(30);
  EXPECT_EQ(image_rows(subsample(d, 10, 3)), image_rows(subsample(d, 10, 3)));
  EXPECT_NE(image_rows(subsample(d, 10, 3)), image_rows(subsample(d, 10, 4)));
}

TEST(DatasetTest, SubsampleZeroOrTooLargeKeepsAll) {
  const Dataset d = make_indexed(5);
  const std::vector<int64_t> all{0, 1, 2, 3, 4};
  EXPECT_EQ(image_rows(subsample(d, 0, 1)), all);
  EXPECT_EQ(image_rows(subsample(d, 5, 1)), all);
  EXPECT_EQ(image_rows(subsample(d, 99, 1)), all);
  EXPECT_EQ(subsample(d, 4, 1).size(), 4);
}

TEST(DatasetTest, ComputeNormalisationHandComputed) {
  // Two channels, 2 images of 1x2 pixels:
  // channel 0: 0, 255, 255, 255 -> 0, 1, 1, 1: mean 0.75, population var 0.1875.
  // channel 1: 0, 51, 102, 153 -> 0, .2, .4, .6: mean 0.3, population var 0.05.
  Dataset d;
  d.images = at::tensor(std::vector<int64_t>{0, 255, 0, 51, 255, 255, 102, 153}, at::kLong)
                 .to(at::kByte)
                 .view({2, 2, 1, 2});
  d.labels = at::zeros({2}, at::kLong);
  compute_normalisation(d);
  ASSERT_EQ(d.mean.size(), 2u);
  ASSERT_EQ(d.stddev.size(), 2u);
  EXPECT_NEAR(d.mean[0], 0.75, 1e-12);
  EXPECT_NEAR(d.mean[1], 0.3, 1e-12);
  EXPECT_NEAR(d.stddev[0], std::sqrt(0.1875), 1e-12);  // not the sample std 0.5
  EXPECT_NEAR(d.stddev[1], std::sqrt(0.05), 1e-12);
  // The images are not modified.
  EXPECT_EQ(d.images.scalar_type(), at::kByte);
  EXPECT_EQ(d.images[0][0][0][1].item<int64_t>(), 255);
}

TEST(DatasetTest, ComputeNormalisationConstantChannelGetsUnitStd) {
  // A constant channel has std 0; it is replaced by 1 so normalising cannot divide by zero.
  Dataset d;
  d.images = at::full({3, 1, 2, 2}, 51, at::kByte);
  d.labels = at::zeros({3}, at::kLong);
  compute_normalisation(d);
  ASSERT_EQ(d.mean.size(), 1u);
  EXPECT_NEAR(d.mean[0], 0.2, 1e-12);
  EXPECT_EQ(d.stddev[0], 1.0);
}

TEST(DatasetTest, ComputeNormalisationReplacesPreviousValues) {
  Dataset d;
  d.images = at::full({2, 1, 1, 1}, 255, at::kByte);
  d.images[1].fill_(0);
  d.mean = {9.0, 9.0, 9.0};
  d.stddev = {9.0, 9.0, 9.0};
  compute_normalisation(d);
  EXPECT_EQ(d.mean, (std::vector<double>{0.5}));
  ASSERT_EQ(d.stddev.size(), 1u);
  EXPECT_NEAR(d.stddev[0], 0.5, 1e-12);
}

}  // namespace
}  // namespace moedil::data
