#include "moedil/partition/random_partition.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
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

data::Dataset rows_dataset(int64_t n) {
  data::Dataset d;
  d.name = "rows";
  d.images = at::zeros({n, 1, 2, 2}, at::kByte);
  d.labels = at::arange(n, at::kLong).remainder(3);
  d.num_classes = 3;
  return d;
}

config::RunConfig random_config(int64_t partitions, int64_t seed) {
  config::RunConfig c;
  c.partition.type = "random_assignment";
  c.num_partitions = partitions;
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

TEST(RandomPartitionTest, EveryRowInExactlyOnePartition) {
  const data::Dataset d = rows_dataset(200);
  const std::vector<Domain> domains = random_domains(d, random_config(4, 0));
  ASSERT_EQ(domains.size(), 4u);
  std::vector<int64_t> all;
  for (std::size_t j = 0; j < domains.size(); ++j) {
    EXPECT_EQ(domains[j].name, "p" + std::to_string(j));
    EXPECT_EQ(domains[j].images.data_ptr(), d.images.data_ptr()) << "images must not be copied";
    EXPECT_EQ(domains[j].labels.data_ptr(), d.labels.data_ptr());
    const std::vector<int64_t> rows = all_rows(domains[j]);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(200);
  for (int64_t i = 0; i < 200; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(all, expected);
}

TEST(RandomPartitionTest, SizesAreUniformOnAverage) {
  // 5000 rows into 5 partitions: each size is Binomial(5000, 0.2), mean 1000, sd about 28.
  const auto rows = rows_of(random_domains(rows_dataset(5000), random_config(5, 3)));
  for (const auto& r : rows) {
    EXPECT_GT(r.size(), 880u);
    EXPECT_LT(r.size(), 1120u);
  }
  // Random, not an equal cut: the sizes are not all 1000.
  bool all_equal = true;
  for (const auto& r : rows) all_equal = all_equal && r.size() == 1000u;
  EXPECT_FALSE(all_equal);
}

TEST(RandomPartitionTest, DeterministicPerSeed) {
  const data::Dataset d = rows_dataset(100);
  const auto a = random_domains(d, random_config(3, 5));
  const auto b = random_domains(d, random_config(3, 5));
  EXPECT_EQ(rows_of(a), rows_of(b));
  for (std::size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(to_vector(a[j].train_idx), to_vector(b[j].train_idx));
    EXPECT_EQ(to_vector(a[j].test_idx), to_vector(b[j].test_idx));
  }
  EXPECT_NE(rows_of(a), rows_of(random_domains(d, random_config(3, 6))));
}

TEST(RandomPartitionTest, EmptyPartitionIsADataError) {
  // 3 rows cannot fill 10 partitions.
  try {
    random_domains(rows_dataset(3), random_config(10, 0));
    ADD_FAILURE() << "no error for an empty partition";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("num_partitions"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no samples"), std::string::npos) << msg;
  }
  EXPECT_THROW(random_domains(rows_dataset(3), random_config(0, 0)), ConfigError);
}

}  // namespace
}  // namespace moedil::partition
