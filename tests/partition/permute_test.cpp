#include "moedil/partition/permute.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"

namespace moedil::partition {
namespace {

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

data::Dataset random_dataset(int64_t n, int64_t channels, int64_t h, int64_t w) {
  data::Dataset d;
  d.name = "random";
  at::manual_seed(0);
  d.images = at::randint(0, 256, {n, channels, h, w}, at::kLong).to(at::kByte);
  d.labels = at::arange(n, at::kLong).remainder(3);
  d.num_classes = 3;
  return d;
}

/// Pixel (c, p) of every image holds 16 * c + p + n (4x4 images, 2 channels), so the value
/// that lands at a position tells where it came from.
data::Dataset position_dataset(int64_t n) {
  data::Dataset d;
  d.name = "positions";
  const at::Tensor pos = at::arange(16, at::kLong).view({1, 1, 4, 4});
  const at::Tensor chan = (at::arange(2, at::kLong) * 16).view({1, 2, 1, 1});
  const at::Tensor row = at::arange(n, at::kLong).view({n, 1, 1, 1});
  d.images = (pos + chan + row).to(at::kByte).contiguous();
  d.labels = at::zeros({n}, at::kLong);
  d.num_classes = 1;
  return d;
}

config::RunConfig permute_config(int64_t partitions, int64_t seed) {
  config::RunConfig c;
  c.partition.type = "permute";
  c.num_partitions = partitions;
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

/// Pixel values of image n, channel ch, sorted.
std::vector<int64_t> sorted_pixels(const at::Tensor& images, int64_t n, int64_t ch) {
  std::vector<int64_t> v = to_vector(images[n][ch].flatten());
  std::sort(v.begin(), v.end());
  return v;
}

TEST(PixelPermutationTest, IsAPermutationAndSeeded) {
  const std::vector<int64_t> p = pixel_permutation(5, 7, 3);
  ASSERT_EQ(p.size(), 35u);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(35);
  std::iota(identity.begin(), identity.end(), int64_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(p, identity);
  EXPECT_EQ(p, pixel_permutation(5, 7, 3));
  EXPECT_NE(p, pixel_permutation(5, 7, 4));
}

TEST(PermutePixelsTest, HandWorkedExample) {
  // Channel 0: 1 2 / 3 4, channel 1: 10 20 / 30 40; out[p] = in[perm[p]] with perm 3 0 1 2.
  const at::Tensor im =
      at::tensor(std::vector<int64_t>{1, 2, 3, 4, 10, 20, 30, 40}, at::kLong).to(at::kByte)
          .view({1, 2, 2, 2});
  const at::Tensor out = permute_pixels(im, {3, 0, 1, 2});
  EXPECT_EQ(out.sizes(), im.sizes());
  EXPECT_EQ(out.scalar_type(), at::kByte);
  EXPECT_TRUE(out.is_contiguous());
  EXPECT_EQ(to_vector(out.flatten()), (std::vector<int64_t>{4, 1, 2, 3, 40, 10, 20, 30}));
  // The input is untouched.
  EXPECT_EQ(to_vector(im.flatten()), (std::vector<int64_t>{1, 2, 3, 4, 10, 20, 30, 40}));
}

TEST(PermutePixelsTest, RejectsANonPermutation) {
  const at::Tensor im = at::zeros({1, 1, 2, 2}, at::kByte);
  EXPECT_THROW(permute_pixels(im, {0, 1, 2}), DataError);
  EXPECT_THROW(permute_pixels(im, {0, 1, 1, 2}), DataError);
  EXPECT_THROW(permute_pixels(im, {0, 1, 2, 4}), DataError);
  EXPECT_THROW(permute_pixels(at::zeros({2, 2}, at::kByte), {0, 1}), DataError);
}

TEST(PermuteDomainsTest, DomainZeroIsTheIdentity) {
  const data::Dataset d = random_dataset(6, 1, 5, 5);
  const std::vector<Domain> domains = permute_domains(d, permute_config(3, 0));
  ASSERT_EQ(domains.size(), 3u);
  EXPECT_EQ(domains[0].name, "perm0");
  EXPECT_EQ(domains[1].name, "perm1");
  EXPECT_EQ(domains[2].name, "perm2");
  EXPECT_TRUE(domains[0].images.equal(d.images));
  EXPECT_EQ(domains[0].images.data_ptr(), d.images.data_ptr());
}

TEST(PermuteDomainsTest, OtherDomainsPermuteEachImagesPixels) {
  const data::Dataset d = random_dataset(8, 3, 6, 5);
  const std::vector<Domain> domains = permute_domains(d, permute_config(4, 1));
  for (std::size_t j = 1; j < domains.size(); ++j) {
    const at::Tensor& im = domains[j].images;
    EXPECT_EQ(im.sizes(), d.images.sizes());
    EXPECT_EQ(im.scalar_type(), at::kByte);
    EXPECT_FALSE(im.equal(d.images)) << domains[j].name;
    for (int64_t n = 0; n < d.size(); ++n) {
      for (int64_t ch = 0; ch < 3; ++ch) {
        EXPECT_EQ(sorted_pixels(im, n, ch), sorted_pixels(d.images, n, ch))
            << domains[j].name << " image " << n << " channel " << ch;
      }
    }
    EXPECT_EQ(domains[j].labels.data_ptr(), d.labels.data_ptr());
  }
  EXPECT_FALSE(domains[1].images.equal(domains[2].images));
  EXPECT_FALSE(domains[2].images.equal(domains[3].images));
}

TEST(PermuteDomainsTest, OnePermutationForEveryImageAndChannel) {
  const data::Dataset d = position_dataset(5);
  const std::vector<Domain> domains = permute_domains(d, permute_config(2, 4));
  const at::Tensor moved = domains[1].images.to(at::kLong);
  // Subtracting what was added per image and channel leaves the source position of each pixel.
  const at::Tensor source = moved - (at::arange(2, at::kLong) * 16).view({1, 2, 1, 1}) -
                            at::arange(5, at::kLong).view({5, 1, 1, 1});
  const std::vector<int64_t> perm = to_vector(source[0][0].flatten());
  for (int64_t n = 0; n < 5; ++n) {
    for (int64_t ch = 0; ch < 2; ++ch) {
      EXPECT_EQ(to_vector(source[n][ch].flatten()), perm) << "image " << n << " channel " << ch;
    }
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(16);
  std::iota(identity.begin(), identity.end(), int64_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(perm, identity);
}

TEST(PermuteDomainsTest, DeterministicPerSeedAndIndependentOfNumPartitions) {
  const data::Dataset d = random_dataset(4, 1, 6, 6);
  const auto a = permute_domains(d, permute_config(3, 9));
  const auto b = permute_domains(d, permute_config(3, 9));
  for (std::size_t j = 0; j < a.size(); ++j) EXPECT_TRUE(a[j].images.equal(b[j].images));
  const auto other = permute_domains(d, permute_config(3, 10));
  EXPECT_FALSE(a[1].images.equal(other[1].images));
  const auto more = permute_domains(d, permute_config(5, 9));
  EXPECT_TRUE(a[2].images.equal(more[2].images));
}

TEST(PermuteDomainsTest, OneSplitSharedByAllDomains) {
  const data::Dataset d = random_dataset(20, 1, 3, 3);
  const std::vector<Domain> domains = permute_domains(d, permute_config(3, 2));
  const std::vector<int64_t> train = to_vector(domains[0].train_idx);
  const std::vector<int64_t> test = to_vector(domains[0].test_idx);
  EXPECT_EQ(train.size(), 16u);
  EXPECT_EQ(test.size(), 4u);
  std::vector<int64_t> both = train;
  both.insert(both.end(), test.begin(), test.end());
  std::sort(both.begin(), both.end());
  std::vector<int64_t> all(20);
  std::iota(all.begin(), all.end(), int64_t{0});
  EXPECT_EQ(both, all);
  for (const Domain& dom : domains) {
    EXPECT_EQ(to_vector(dom.train_idx), train) << dom.name;
    EXPECT_EQ(to_vector(dom.test_idx), test) << dom.name;
  }
  // The split depends on the seed.
  const auto other = permute_domains(d, permute_config(3, 3));
  EXPECT_NE(to_vector(other[0].test_idx), test);
}

TEST(PermuteDomainsTest, NoPartitionsIsAConfigError) {
  EXPECT_THROW(permute_domains(random_dataset(4, 1, 2, 2), permute_config(0, 0)), ConfigError);
}

}  // namespace
}  // namespace moedil::partition
