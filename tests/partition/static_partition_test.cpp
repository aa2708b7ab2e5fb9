#include "moedil/partition/static_partition.h"

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

config::RunConfig static_config(int64_t partitions, int64_t seed) {
  config::RunConfig c;
  c.partition.type = "static";
  c.num_partitions = partitions;
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

std::vector<std::size_t> sizes(const std::vector<Domain>& domains) {
  std::vector<std::size_t> out;
  for (const Domain& dom : domains) out.push_back(all_rows(dom).size());
  return out;
}

/// The domains' rows are disjoint and together hold 0..n-1.
void expect_disjoint_cover(const std::vector<Domain>& domains, int64_t n) {
  std::vector<int64_t> all;
  for (const Domain& dom : domains) {
    const std::vector<int64_t> rows = all_rows(dom);
    all.insert(all.end(), rows.begin(), rows.end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(all, expected);
}

TEST(StaticPartitionTest, EqualChunksWhenDivisible) {
  const data::Dataset d = rows_dataset(20);
  const std::vector<Domain> domains = static_domains(d, static_config(4, 0));
  ASSERT_EQ(domains.size(), 4u);
  EXPECT_EQ(sizes(domains), (std::vector<std::size_t>{5, 5, 5, 5}));
  expect_disjoint_cover(domains, 20);
  for (std::size_t j = 0; j < domains.size(); ++j) {
    EXPECT_EQ(domains[j].name, "p" + std::to_string(j));
    EXPECT_EQ(domains[j].images.data_ptr(), d.images.data_ptr()) << "images must not be copied";
    EXPECT_EQ(domains[j].labels.data_ptr(), d.labels.data_ptr());
    EXPECT_EQ(domains[j].train_idx.numel(), 4);  // round(0.8 * 5)
    EXPECT_EQ(domains[j].test_idx.numel(), 1);
  }
}

TEST(StaticPartitionTest, RemainderGoesToTheFirstChunks) {
  const data::Dataset d = rows_dataset(23);
  const std::vector<Domain> domains = static_domains(d, static_config(5, 1));
  EXPECT_EQ(sizes(domains), (std::vector<std::size_t>{5, 5, 5, 4, 4}));
  expect_disjoint_cover(domains, 23);
  const std::vector<Domain> one_extra = static_domains(rows_dataset(13), static_config(4, 1));
  EXPECT_EQ(sizes(one_extra), (std::vector<std::size_t>{4, 3, 3, 3}));
  expect_disjoint_cover(one_extra, 13);
}

TEST(StaticPartitionTest, RowsAreShuffledNotCutInOrder) {
  const data::Dataset d = rows_dataset(100);
  const auto rows = rows_of(static_domains(d, static_config(4, 2)));
  std::vector<int64_t> first_quarter(25);
  for (int64_t i = 0; i < 25; ++i) first_quarter[static_cast<std::size_t>(i)] = i;
  EXPECT_NE(rows[0], first_quarter);
  // A shuffle spreads each chunk over the whole range.
  EXPECT_GT(rows[0].back() - rows[0].front(), 50);
}

TEST(StaticPartitionTest, DeterministicPerSeed) {
  const data::Dataset d = rows_dataset(50);
  const auto a = static_domains(d, static_config(5, 7));
  const auto b = static_domains(d, static_config(5, 7));
  EXPECT_EQ(rows_of(a), rows_of(b));
  for (std::size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(to_vector(a[j].train_idx), to_vector(b[j].train_idx));
  }
  EXPECT_NE(rows_of(a), rows_of(static_domains(d, static_config(5, 8))));
}

TEST(StaticPartitionTest, DatasetTestSplitUsesTheDatasetsTestFlags) {
  data::Dataset d = rows_dataset(40);
  d.is_test = at::arange(40, at::kLong).remainder(5).eq(0);
  config::RunConfig c = static_config(2, 0);
  c.test_split = "dataset";
  for (const Domain& dom : static_domains(d, c)) {
    for (int64_t r : to_vector(dom.test_idx)) EXPECT_EQ(r % 5, 0) << dom.name;
    for (int64_t r : to_vector(dom.train_idx)) EXPECT_NE(r % 5, 0) << dom.name;
  }
}

TEST(StaticPartitionTest, TooFewRowsOrNoPartitionsAreErrors) {
  try {
    static_domains(rows_dataset(3), static_config(4, 0));
    ADD_FAILURE() << "no error for 3 rows in 4 partitions";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("num_partitions"), std::string::npos) << e.what();
  }
  EXPECT_THROW(static_domains(rows_dataset(3), static_config(0, 0)), ConfigError);
}

}  // namespace
}  // namespace moedil::partition
