#include "moedil/partition/noise.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
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

/// n images [C, H, W] with every pixel `value`.
at::Tensor flat_images(int64_t n, int64_t channels, int64_t side, int64_t value) {
  return at::full({n, channels, side, side}, value, at::kByte);
}

data::Dataset grey_dataset(int64_t n) {
  data::Dataset d;
  d.name = "grey";
  d.images = flat_images(n, 1, 8, 128);
  d.labels = at::arange(n, at::kLong).remainder(2);
  d.num_classes = 2;
  return d;
}

config::RunConfig noise_config(std::vector<double> levels, int64_t seed) {
  config::RunConfig c;
  c.partition.type = "noise";
  c.partition.levels = std::move(levels);
  c.num_partitions = static_cast<int64_t>(c.partition.levels.size());
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

struct Moments {
  double mean;
  double stddev;
  double beyond_two_sd;  ///< fraction of values more than 2 expected sd from `centre`
};

Moments moments(const at::Tensor& images, double centre, double expected_sd) {
  const at::Tensor x = images.to(at::kDouble);
  const double mean = x.mean().item<double>();
  const double sd = x.std(/*unbiased=*/false).item<double>();
  const double tail =
      (x - centre).abs().gt(2.0 * expected_sd).to(at::kDouble).mean().item<double>();
  return {mean, sd, tail};
}

TEST(AddGaussianNoiseTest, LevelZeroReturnsTheSameTensor) {
  const at::Tensor im = flat_images(3, 1, 4, 77);
  const at::Tensor out = add_gaussian_noise(im, 0.0, 5);
  EXPECT_EQ(out.data_ptr(), im.data_ptr());
  EXPECT_TRUE(out.equal(im));
}

TEST(AddGaussianNoiseTest, EmpiricalStdMatchesTheLevelOnMidGrey) {
  // 30 x 3 x 32 x 32 = 92160 values: more than one noise block.
  const at::Tensor im = flat_images(30, 3, 32, 128);
  for (double level : {0.02, 0.05, 0.1}) {
    const at::Tensor out = add_gaussian_noise(im, level, 11);
    EXPECT_EQ(out.sizes(), im.sizes());
    EXPECT_EQ(out.scalar_type(), at::kByte);
    EXPECT_TRUE(out.is_contiguous());
    const double sd = level * 255.0;
    const Moments m = moments(out, 128.0, sd);
    EXPECT_NEAR(m.mean, 128.0, 0.3) << level;
    EXPECT_NEAR(m.stddev, sd, 0.02 * sd) << level;
    // About 4.5% of a normal's mass lies beyond 2 sd (none of a uniform's of the same sd). The
    // pixels are whole numbers, so |x - 128| > 2 sd means |noise| > floor(2 sd) + 0.5.
    const double tail = std::erfc((std::floor(2.0 * sd) + 0.5) / (sd * std::sqrt(2.0)));
    EXPECT_NEAR(m.beyond_two_sd, tail, 0.004) << level;
  }
  // The input is untouched.
  EXPECT_TRUE(im.eq(128).all().item<bool>());
}

TEST(AddGaussianNoiseTest, ClampsToTheByteRange) {
  const at::Tensor bright = add_gaussian_noise(flat_images(10, 1, 16, 250), 0.3, 1);
  EXPECT_EQ(bright.max().item<int64_t>(), 255);
  EXPECT_GT(bright.eq(255).to(at::kDouble).mean().item<double>(), 0.4);  // P(z > 5/76.5) = 0.47
  const at::Tensor dark = add_gaussian_noise(flat_images(10, 1, 16, 5), 0.3, 1);
  EXPECT_EQ(dark.min().item<int64_t>(), 0);
  EXPECT_GT(dark.eq(0).to(at::kDouble).mean().item<double>(), 0.4);
}

TEST(AddGaussianNoiseTest, DeterministicPerSeed) {
  const at::Tensor im = flat_images(4, 2, 8, 100);
  const at::Tensor a = add_gaussian_noise(im, 0.1, 42);
  EXPECT_TRUE(a.equal(add_gaussian_noise(im, 0.1, 42)));
  EXPECT_FALSE(a.equal(add_gaussian_noise(im, 0.1, 43)));
  EXPECT_FALSE(a.equal(im));
}

TEST(AddGaussianNoiseTest, BlocksDrawTheirOwnNoise) {
  // Exactly two blocks of 65536 values of a flat image: the two halves must differ.
  const at::Tensor out = add_gaussian_noise(flat_images(2, 1, 256, 128), 0.1, 3);
  EXPECT_FALSE(out[0].equal(out[1]));
}

TEST(AddGaussianNoiseTest, SameResultForEveryThreadCount) {
  const int threads = at::get_num_threads();
  const at::Tensor im = flat_images(4, 3, 128, 128);  // 196608 values, 3 blocks
  at::set_num_threads(1);
  const at::Tensor one = add_gaussian_noise(im, 0.2, 8);
  at::set_num_threads(4);
  const at::Tensor four = add_gaussian_noise(im, 0.2, 8);
  at::set_num_threads(threads);
  EXPECT_TRUE(one.equal(four));
}

TEST(AddGaussianNoiseTest, BadInputIsRejected) {
  const at::Tensor im = flat_images(1, 1, 2, 0);
  EXPECT_THROW(add_gaussian_noise(im, -0.1, 0), ConfigError);
  EXPECT_THROW(add_gaussian_noise(im, std::nan(""), 0), ConfigError);
  EXPECT_THROW(add_gaussian_noise(im.to(at::kFloat), 0.1, 0), DataError);
}

TEST(NoiseDomainsTest, OneDomainPerLevel) {
  const data::Dataset d = grey_dataset(400);
  const std::vector<Domain> domains = noise_domains(d, noise_config({0.0, 0.05, 0.25}, 0));
  ASSERT_EQ(domains.size(), 3u);
  EXPECT_EQ(domains[0].name, "noise0");
  EXPECT_EQ(domains[1].name, "noise0.05");
  EXPECT_EQ(domains[2].name, "noise0.25");
  EXPECT_EQ(domains[0].images.data_ptr(), d.images.data_ptr());
  EXPECT_NEAR(moments(domains[1].images, 128, 12.75).stddev, 12.75, 0.03 * 12.75);
  EXPECT_GT(moments(domains[2].images, 128, 63.75).stddev, 55.0);
  for (const Domain& dom : domains) {
    EXPECT_EQ(dom.images.sizes(), d.images.sizes());
    EXPECT_EQ(dom.labels.data_ptr(), d.labels.data_ptr());
  }
}

TEST(NoiseDomainsTest, DeterministicAndEachDomainHasItsOwnNoise) {
  const data::Dataset d = grey_dataset(20);
  const auto a = noise_domains(d, noise_config({0.1, 0.1}, 4));
  const auto b = noise_domains(d, noise_config({0.1, 0.1}, 4));
  EXPECT_TRUE(a[0].images.equal(b[0].images));
  EXPECT_TRUE(a[1].images.equal(b[1].images));
  EXPECT_FALSE(a[0].images.equal(a[1].images));
  EXPECT_FALSE(a[0].images.equal(noise_domains(d, noise_config({0.1, 0.1}, 5))[0].images));
}

TEST(NoiseDomainsTest, OneSplitSharedByAllDomains) {
  const data::Dataset d = grey_dataset(20);
  const std::vector<Domain> domains = noise_domains(d, noise_config({0.0, 0.1, 0.2}, 6));
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
}

TEST(NoiseDomainsTest, BadSettingsAreConfigErrors) {
  const data::Dataset d = grey_dataset(10);
  auto message = [&](const config::RunConfig& c) -> std::string {
    try {
      noise_domains(d, c);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError";
    return "";
  };
  EXPECT_NE(message(noise_config({0.0, -0.1}, 0)).find("partition.levels"), std::string::npos);
  EXPECT_NE(message(noise_config({}, 0)).find("partition.levels"), std::string::npos);
  config::RunConfig c = noise_config({0.0, 0.1}, 0);
  c.num_partitions = 3;
  EXPECT_NE(message(c).find("num_partitions"), std::string::npos);
}

}  // namespace
}  // namespace moedil::partition
