#include "moedil/partition/dirichlet.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "domain_rows.h"

namespace moedil::partition {
namespace {

using testing::all_rows;
using testing::rows_of;
using testing::to_vector;

/// n samples of 1x2x2 zero images; label of row i is i % num_classes.
data::Dataset labelled(int64_t n, int64_t num_classes) {
  data::Dataset d;
  d.name = "labelled";
  d.images = at::zeros({n, 1, 2, 2}, at::kByte);
  d.labels = at::arange(n, at::kLong).remainder(num_classes);
  d.num_classes = num_classes;
  return d;
}

config::RunConfig dirichlet_config(int64_t partitions, double alpha, int64_t min_size,
                                   int64_t seed, bool balanced = false) {
  config::RunConfig c;
  c.partition.type = "dirichlet";
  c.num_partitions = partitions;
  c.partition.alpha = alpha;
  c.partition.min_size = min_size;
  c.partition.retries = 100;
  c.partition.balanced = balanced;
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

/// Mean over partitions of the total-variation distance between the partition's class mix and
/// the uniform mix (0: every partition holds every class equally; near 1: one class each).
double class_skew(const data::Dataset& d, const std::vector<Domain>& domains) {
  const std::vector<int64_t> labels = to_vector(d.labels);
  double total = 0.0;
  for (const Domain& dom : domains) {
    std::vector<double> counts(static_cast<std::size_t>(d.num_classes), 0.0);
    const std::vector<int64_t> rows = all_rows(dom);
    for (int64_t r : rows) {
      counts[static_cast<std::size_t>(labels[static_cast<std::size_t>(r)])] += 1.0;
    }
    double tv = 0.0;
    for (double count : counts) {
      tv += std::abs(count / static_cast<double>(rows.size()) - 1.0 / d.num_classes);
    }
    total += tv / 2.0;
  }
  return total / static_cast<double>(domains.size());
}

/// The message of the E thrown by f ("" and a test failure when it throws nothing).
template <class E>
std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "nothing thrown";
  return "";
}

// ---- samplers ----

TEST(DirichletSamplerTest, UniformUsesTheTop53BitsOfTheEngine) {
  // The standard fixes the 10000th output of a default-constructed mt19937_64:
  // 9981545732273789042.
  std::mt19937_64 engine;
  engine.discard(9999);
  const double expected = (static_cast<double>(9981545732273789042ULL >> 11) + 0.5) * 0x1.0p-53;
  EXPECT_EQ(uniform_open01(engine), expected);
  std::mt19937_64 many(1);
  double sum = 0.0;
  for (int i = 0; i < 100000; ++i) {
    const double u = uniform_open01(many);
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
}

TEST(DirichletSamplerTest, NormalHasMeanZeroVarianceOne) {
  std::mt19937_64 engine(2);
  const int n = 200000;
  double sum = 0.0;
  double sq = 0.0;
  int beyond_two = 0;
  for (int i = 0; i < n; ++i) {
    const double z = standard_normal(engine);
    sum += z;
    sq += z * z;
    beyond_two += std::abs(z) > 2.0;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
  EXPECT_NEAR(static_cast<double>(beyond_two) / n, 0.0455, 0.003);  // a normal tail, not uniform
}

TEST(DirichletSamplerTest, GammaMeanAndVarianceEqualShape) {
  for (double shape : {0.05, 0.3, 1.0, 3.5, 50.0}) {
    std::mt19937_64 engine(3);
    const int n = 100000;
    double sum = 0.0;
    double sq = 0.0;
    for (int i = 0; i < n; ++i) {
      const double g = sample_gamma(engine, shape);
      ASSERT_GE(g, 0.0);
      sum += g;
      sq += g * g;
    }
    const double mean = sum / n;
    const double var = sq / n - mean * mean;
    EXPECT_NEAR(mean, shape, 0.03 * shape) << shape;
    EXPECT_NEAR(var, shape, (shape < 0.1 ? 0.25 : 0.1) * shape) << shape;
  }
}

TEST(DirichletSamplerTest, GammaRejectsBadShape) {
  std::mt19937_64 engine(0);
  EXPECT_THROW(sample_gamma(engine, 0.0), ConfigError);
  EXPECT_THROW(sample_gamma(engine, -1.0), ConfigError);
  EXPECT_THROW(sample_gamma(engine, std::nan("")), ConfigError);
}

TEST(DirichletSamplerTest, DirichletSumsToOneAndHasTheRightSpread) {
  std::mt19937_64 engine(4);
  // Symmetric Dirichlet(alpha) over k: each component has mean 1/k and variance
  // (k - 1) / (k^2 (k alpha + 1)).
  for (double alpha : {0.1, 1.0, 20.0}) {
    const int k = 4;
    const int n = 40000;
    double sq = 0.0;
    for (int i = 0; i < n; ++i) {
      const std::vector<double> p = sample_dirichlet(engine, alpha, k);
      ASSERT_EQ(p.size(), 4u);
      double sum = 0.0;
      for (double x : p) {
        ASSERT_GE(x, 0.0);
        sum += x;
      }
      ASSERT_NEAR(sum, 1.0, 1e-12);
      sq += (p[0] - 0.25) * (p[0] - 0.25);
    }
    const double expected = 3.0 / (16.0 * (k * alpha + 1.0));
    EXPECT_NEAR(sq / n, expected, 0.05 * expected) << alpha;
  }
}

TEST(DirichletSamplerTest, TinyAlphaPutsTheMassOnOneCategory) {
  std::mt19937_64 engine(5);
  for (int i = 0; i < 100; ++i) {
    const std::vector<double> p = sample_dirichlet(engine, 1e-4, 6);
    double sum = 0.0;
    for (double x : p) {
      ASSERT_TRUE(std::isfinite(x));
      sum += x;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_GT(*std::max_element(p.begin(), p.end()), 0.99);
  }
}

TEST(DirichletSamplerTest, SameSeedSameDraws) {
  std::mt19937_64 a(77);
  std::mt19937_64 b(77);
  std::mt19937_64 other(78);
  const std::vector<double> first = sample_dirichlet(a, 0.5, 5);
  EXPECT_EQ(first, sample_dirichlet(b, 0.5, 5));
  EXPECT_NE(first, sample_dirichlet(other, 0.5, 5));
}

// ---- dirichlet_domains ----

TEST(DirichletDomainsTest, DisjointCoveringNamedDomainsSharingTheTensors) {
  const data::Dataset d = labelled(500, 5);
  const std::vector<Domain> domains = dirichlet_domains(d, dirichlet_config(4, 0.5, 10, 1));
  ASSERT_EQ(domains.size(), 4u);
  std::vector<int64_t> all;
  for (std::size_t j = 0; j < domains.size(); ++j) {
    const Domain& dom = domains[j];
    EXPECT_EQ(dom.name, "p" + std::to_string(j));
    EXPECT_EQ(dom.images.data_ptr(), d.images.data_ptr()) << "images must not be copied";
    EXPECT_EQ(dom.labels.data_ptr(), d.labels.data_ptr());
    EXPECT_EQ(dom.train_idx.scalar_type(), at::kLong);
    // split_domain's train_frac split of this partition.
    const auto size = static_cast<double>(dom.train_idx.numel() + dom.test_idx.numel());
    EXPECT_EQ(dom.train_idx.numel(), std::llround(0.8 * size)) << dom.name;
    const std::vector<int64_t> rows = all_rows(dom);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(500);
  for (int64_t i = 0; i < 500; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(all, expected);  // every row in exactly one partition
}

TEST(DirichletDomainsTest, ReproducibleBySeed) {
  const data::Dataset d = labelled(600, 6);
  const auto a = dirichlet_domains(d, dirichlet_config(5, 0.3, 5, 21));
  const auto b = dirichlet_domains(d, dirichlet_config(5, 0.3, 5, 21));
  EXPECT_EQ(rows_of(a), rows_of(b));
  for (std::size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(to_vector(a[j].train_idx), to_vector(b[j].train_idx));
    EXPECT_EQ(to_vector(a[j].test_idx), to_vector(b[j].test_idx));
  }
  EXPECT_NE(rows_of(a), rows_of(dirichlet_domains(d, dirichlet_config(5, 0.3, 5, 22))));
}

TEST(DirichletDomainsTest, RedrawsUntilEveryPartitionReachesMinSize) {
  const data::Dataset d = labelled(400, 4);
  const int64_t min_size = 40;
  // Find a seed whose first draw leaves a partition below min_size (the attempt-0 draw does not
  // depend on min_size), so the min_size result must come from a redraw.
  int64_t seed = -1;
  for (int64_t s = 0; s < 50 && seed < 0; ++s) {
    for (const auto& rows : rows_of(dirichlet_domains(d, dirichlet_config(5, 0.3, 0, s)))) {
      if (static_cast<int64_t>(rows.size()) < min_size) seed = s;
    }
  }
  ASSERT_GE(seed, 0) << "no seed with a small first draw";
  const auto first = rows_of(dirichlet_domains(d, dirichlet_config(5, 0.3, 0, seed)));
  const auto redrawn = rows_of(dirichlet_domains(d, dirichlet_config(5, 0.3, min_size, seed)));
  EXPECT_NE(first, redrawn);
  for (const auto& rows : redrawn) EXPECT_GE(static_cast<int64_t>(rows.size()), min_size);
}

TEST(DirichletDomainsTest, SmallAlphaSkewsClassMixesLargeAlphaKeepsThemEven) {
  const data::Dataset d = labelled(3000, 10);
  const double skewed = class_skew(d, dirichlet_domains(d, dirichlet_config(5, 0.05, 10, 3)));
  const double even = class_skew(d, dirichlet_domains(d, dirichlet_config(5, 1000.0, 10, 3)));
  EXPECT_GT(skewed, 0.5);
  EXPECT_LT(even, 0.05);
}

TEST(DirichletDomainsTest, BalancedGivesEqualSizesAndStillSkewedMixes) {
  const data::Dataset d = labelled(3003, 10);  // 600 each, 3 rows used by none
  const std::vector<Domain> domains = dirichlet_domains(d, dirichlet_config(5, 0.05, 10, 4, true));
  ASSERT_EQ(domains.size(), 5u);
  std::vector<int64_t> all;
  for (const Domain& dom : domains) {
    const std::vector<int64_t> rows = all_rows(dom);
    EXPECT_EQ(rows.size(), 600u) << dom.name;
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end()) << "a row in two partitions";
  EXPECT_GT(class_skew(d, domains), 0.3);  // measured 0.43 (unbalanced draws: about 0.7)
  const auto even = dirichlet_domains(d, dirichlet_config(5, 1000.0, 10, 4, true));
  EXPECT_LT(class_skew(d, even), 0.05);
  for (const Domain& dom : even) EXPECT_EQ(all_rows(dom).size(), 600u);
  // Reproducible, and the seed matters.
  EXPECT_EQ(rows_of(domains),
            rows_of(dirichlet_domains(d, dirichlet_config(5, 0.05, 10, 4, true))));
  EXPECT_NE(rows_of(domains),
            rows_of(dirichlet_domains(d, dirichlet_config(5, 0.05, 10, 5, true))));
}

TEST(DirichletDomainsTest, BalancedBelowMinSizeIsAnError) {
  const data::Dataset d = labelled(100, 2);
  const std::string msg = error_message<DataError>(
      [&] { dirichlet_domains(d, dirichlet_config(4, 1.0, 26, 0, true)); });
  EXPECT_NE(msg.find("partition.min_size"), std::string::npos) << msg;
  EXPECT_NO_THROW(dirichlet_domains(d, dirichlet_config(4, 1.0, 25, 0, true)));
}

TEST(DirichletDomainsTest, MinSizeLargerThanTheDataAllowsFailsAtOnce) {
  const data::Dataset d = labelled(100, 5);
  const std::string msg = error_message<DataError>(
      [&] { dirichlet_domains(d, dirichlet_config(5, 0.5, 30, 0)); });
  for (const char* word : {"partition.min_size", "num_partitions", "partition.alpha", "100"}) {
    EXPECT_NE(msg.find(word), std::string::npos) << word << " missing from: " << msg;
  }
}

TEST(DirichletDomainsTest, MinSizeOutOfReachAfterRetriesNamesWhatToChange) {
  // Two classes, alpha 0.001: each class lands almost whole in one partition, so at most two of
  // the ten partitions get 5 samples.
  const data::Dataset d = labelled(100, 2);
  config::RunConfig c = dirichlet_config(10, 0.001, 5, 0);
  c.partition.retries = 3;
  const std::string msg = error_message<DataError>([&] { dirichlet_domains(d, c); });
  for (const char* word : {"partition.min_size", "partition.alpha", "0.001", "num_partitions",
                           "partition.retries", "3 draws", "100 samples", "2 classes"}) {
    EXPECT_NE(msg.find(word), std::string::npos) << word << " missing from: " << msg;
  }
  // A larger alpha reaches it.
  c.partition.alpha = 100.0;
  EXPECT_NO_THROW(dirichlet_domains(d, c));
}

TEST(DirichletDomainsTest, BadSettingsAreConfigErrors) {
  const data::Dataset d = labelled(100, 2);
  config::RunConfig c = dirichlet_config(2, 0.0, 1, 0);
  EXPECT_NE(error_message<ConfigError>([&] { dirichlet_domains(d, c); }).find("partition.alpha"),
            std::string::npos);
  c = dirichlet_config(2, 1.0, 1, 0);
  c.partition.retries = 0;
  EXPECT_NE(error_message<ConfigError>([&] { dirichlet_domains(d, c); }).find("partition.retries"),
            std::string::npos);
  c = dirichlet_config(0, 1.0, 1, 0);
  EXPECT_NE(error_message<ConfigError>([&] { dirichlet_domains(d, c); }).find("num_partitions"),
            std::string::npos);
}

TEST(DirichletDomainsTest, LabelOutsideTheClassesIsADataError) {
  data::Dataset d = labelled(100, 2);
  d.labels[7] = 2;
  EXPECT_THROW(dirichlet_domains(d, dirichlet_config(2, 1.0, 1, 0)), DataError);
  d.labels[7] = -1;
  EXPECT_THROW(dirichlet_domains(d, dirichlet_config(2, 1.0, 1, 0)), DataError);
}

TEST(DirichletDomainsTest, ClassesWithoutSamplesAreFine) {
  data::Dataset d = labelled(200, 2);
  d.num_classes = 5;  // classes 2..4 have no samples
  const auto domains = dirichlet_domains(d, dirichlet_config(3, 1.0, 10, 0));
  std::size_t total = 0;
  for (const auto& rows : rows_of(domains)) total += rows.size();
  EXPECT_EQ(total, 200u);
}

TEST(DirichletDomainsTest, DatasetTestSplitUsesTheDatasetsTestFlags) {
  data::Dataset d = labelled(300, 3);
  d.is_test = at::arange(300, at::kLong).remainder(4).eq(0);  // every 4th row is a test row
  config::RunConfig c = dirichlet_config(3, 1.0, 10, 0);
  c.test_split = "dataset";
  for (const Domain& dom : dirichlet_domains(d, c)) {
    for (int64_t r : to_vector(dom.test_idx)) EXPECT_EQ(r % 4, 0) << dom.name;
    for (int64_t r : to_vector(dom.train_idx)) EXPECT_NE(r % 4, 0) << dom.name;
  }
}

}  // namespace
}  // namespace moedil::partition
