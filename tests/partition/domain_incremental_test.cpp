#include "moedil/partition/domain_incremental.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/data/synthetic.h"
#include "moedil/partition/registry.h"

namespace moedil::partition {
namespace {

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

config::RunConfig di_config(int64_t num_partitions, int64_t seed = 0) {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.partition.type = "domainIncremental";
  c.num_partitions = num_partitions;
  c.train_frac = 0.8;
  c.seeds.partition = seed;
  return c;
}

/// Rows of domain `dom` (train and test), sorted.
std::vector<int64_t> all_rows(const Domain& dom) {
  std::vector<int64_t> rows = to_vector(dom.train_idx);
  const std::vector<int64_t> test = to_vector(dom.test_idx);
  rows.insert(rows.end(), test.begin(), test.end());
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// Rows of d whose domain id is in [first, last], sorted.
std::vector<int64_t> rows_with_domain(const data::Dataset& d, int64_t first, int64_t last) {
  std::vector<int64_t> rows;
  const std::vector<int64_t> ids = to_vector(d.domain_ids);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= first && ids[i] <= last) rows.push_back(static_cast<int64_t>(i));
  }
  return rows;
}

TEST(DomainIncrementalTest, OneDomainPerId) {
  // 48 synthetic samples: domain of row i is (i / 4) % 3, so 16 rows per domain.
  const data::Dataset d = data::make_synthetic_dataset(48, 0);
  const std::vector<Domain> domains = domain_incremental_domains(d, di_config(3));
  ASSERT_EQ(domains.size(), 3u);
  const std::vector<int64_t> ids = to_vector(d.domain_ids);
  for (int64_t g = 0; g < 3; ++g) {
    const Domain& dom = domains[static_cast<std::size_t>(g)];
    EXPECT_EQ(dom.name, "d" + std::to_string(g));
    // round(0.8 * 16) = 13 train, 3 test.
    EXPECT_EQ(dom.train_idx.numel(), 13) << dom.name;
    EXPECT_EQ(dom.test_idx.numel(), 3) << dom.name;
    for (int64_t r : to_vector(dom.train_idx)) EXPECT_EQ(ids[static_cast<std::size_t>(r)], g);
    for (int64_t r : to_vector(dom.test_idx)) EXPECT_EQ(ids[static_cast<std::size_t>(r)], g);
    // Train and test are disjoint and cover the whole domain.
    EXPECT_EQ(all_rows(dom), rows_with_domain(d, g, g)) << dom.name;
    EXPECT_TRUE(dom.images.equal(d.images));
    EXPECT_TRUE(dom.labels.equal(d.labels));
  }
}

TEST(DomainIncrementalTest, HandCheckedRowsOfFirstDomain) {
  // 12 samples: rows 0-3 domain 0, 4-7 domain 1, 8-11 domain 2.
  const data::Dataset d = data::make_synthetic_dataset(12, 0);
  const std::vector<Domain> domains = domain_incremental_domains(d, di_config(3));
  ASSERT_EQ(domains.size(), 3u);
  EXPECT_EQ(all_rows(domains[0]), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(all_rows(domains[1]), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(all_rows(domains[2]), (std::vector<int64_t>{8, 9, 10, 11}));
  EXPECT_EQ(domains[0].train_idx.numel(), 3);  // round(3.2)
  EXPECT_EQ(domains[0].test_idx.numel(), 1);
}

TEST(DomainIncrementalTest, OnePartitionGroupsAll) {
  const data::Dataset d = data::make_synthetic_dataset(48, 0);
  const std::vector<Domain> domains = domain_incremental_domains(d, di_config(1));
  ASSERT_EQ(domains.size(), 1u);
  EXPECT_EQ(domains[0].name, "d0+d1+d2");
  EXPECT_EQ(all_rows(domains[0]), rows_with_domain(d, 0, 2));
  EXPECT_EQ(all_rows(domains[0]).size(), 48u);
  EXPECT_EQ(domains[0].train_idx.numel(), 38);  // round(38.4)
}

TEST(DomainIncrementalTest, GroupsConsecutiveIds) {
  // Six domains in pairs: (a, b), (c, d), (e, f).
  data::Dataset d = data::make_synthetic_dataset(24, 0);
  d.domain_ids = at::arange(24, at::kLong).div(4, "floor");  // 0,0,0,0,1,1,1,1,...,5
  d.domain_names = {"a", "b", "c", "d", "e", "f"};
  const std::vector<Domain> domains = domain_incremental_domains(d, di_config(3));
  ASSERT_EQ(domains.size(), 3u);
  EXPECT_EQ(domains[0].name, "a+b");
  EXPECT_EQ(domains[1].name, "c+d");
  EXPECT_EQ(domains[2].name, "e+f");
  EXPECT_EQ(all_rows(domains[1]), (std::vector<int64_t>{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(DomainIncrementalTest, NonDividingPartitionCountIsConfigError) {
  const data::Dataset d = data::make_synthetic_dataset(48, 0);
  for (int64_t n : {2, 4, 5}) {
    try {
      domain_incremental_domains(d, di_config(n));
      FAIL() << "expected ConfigError for num_partitions " << n;
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("does not divide"), std::string::npos) << msg;
      EXPECT_NE(msg.find("num_partitions"), std::string::npos) << msg;
    }
  }
}

TEST(DomainIncrementalTest, DatasetWithoutDomainIdsIsConfigError) {
  data::Dataset d = data::make_synthetic_dataset(12, 0);
  d.name = "plain";
  d.domain_ids = at::Tensor();
  d.domain_names.clear();
  try {
    domain_incremental_domains(d, di_config(1));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("domain ids"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'plain'"), std::string::npos) << msg;
  }
}

TEST(DomainIncrementalTest, TooSmallDomainIsDataError) {
  // 4 samples: all in domain 0; domains 1 and 2 are empty.
  const data::Dataset d = data::make_synthetic_dataset(4, 0);
  EXPECT_THROW(domain_incremental_domains(d, di_config(3)), DataError);
}

TEST(DomainIncrementalTest, SplitDeterministicPerSeedAndDiffersPerDomain) {
  const data::Dataset d = data::make_synthetic_dataset(96, 0);
  const auto a = domain_incremental_domains(d, di_config(3, 4));
  const auto b = domain_incremental_domains(d, di_config(3, 4));
  const auto other = domain_incremental_domains(d, di_config(3, 5));
  for (std::size_t g = 0; g < 3; ++g) {
    EXPECT_EQ(to_vector(a[g].train_idx), to_vector(b[g].train_idx));
    EXPECT_EQ(to_vector(a[g].test_idx), to_vector(b[g].test_idx));
    EXPECT_NE(to_vector(a[g].test_idx), to_vector(other[g].test_idx));
  }
}

TEST(PartitionRegistryTest, DispatchesOnType) {
  EXPECT_EQ(partition_registry().names(),
            (std::vector<std::string>{"rotate", "domainIncremental", "dirichlet", "static",
                                      "random_assignment", "permute", "noise"}));
  const data::Dataset d = data::make_synthetic_dataset(48, 0);
  const auto di = make_domains(d, di_config(3));
  ASSERT_EQ(di.size(), 3u);
  EXPECT_EQ(di[2].name, "d2");
  config::RunConfig c = di_config(2);
  c.partition.type = "rotate";
  c.partition.angles = {0, 90};
  const auto rot = make_domains(d, c);
  ASSERT_EQ(rot.size(), 2u);
  EXPECT_EQ(rot[1].name, "rot90");
  c.partition.type = "domainincremental";
  EXPECT_THROW(make_domains(d, c), ConfigError);
}

}  // namespace
}  // namespace moedil::partition

namespace moedil::partition {
namespace {

config::RunConfig settings_config() {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.partition.type = "domainIncremental";
  c.num_partitions = 2;
  return c;
}

TEST(DomainIncrementalSettings, SelectAndOrderDomains) {
  const data::Dataset d = data::make_synthetic_dataset(120, 0);
  config::RunConfig c = settings_config();
  c.settings = {"d2", "d0"};
  const auto domains = domain_incremental_domains(d, c);
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[0].name, "d2");
  EXPECT_EQ(domains[1].name, "d0");
  const at::Tensor ids = d.domain_ids.index_select(0, domains[0].train_idx);
  EXPECT_TRUE(ids.eq(2).all().item<bool>());
  c.settings = {"d3"};
  c.num_partitions = 1;
  try {
    domain_incremental_domains(d, c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("settings: 'd3' is not a domain"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("d0, d1, d2"), std::string::npos);
  }
}

TEST(DomainIncrementalSettings, HeldOutTestSettingsAreEveryDomainsTestSet) {
  const data::Dataset d = data::make_synthetic_dataset(120, 0);
  config::RunConfig c = settings_config();
  c.test_settings = {"d1"};
  const auto domains = domain_incremental_domains(d, c);
  ASSERT_EQ(domains.size(), 2u);  // d0 and d2 trained, d1 held out
  EXPECT_EQ(domains[0].name, "d0");
  EXPECT_EQ(domains[1].name, "d2");
  for (const auto& dom : domains) {
    EXPECT_EQ(dom.train_idx.numel(), 40);  // all of the domain's samples
    EXPECT_TRUE(d.domain_ids.index_select(0, dom.test_idx).eq(1).all().item<bool>());
    EXPECT_EQ(dom.test_idx.numel(), 40);
  }
  c.settings = {"d0", "d1"};
  EXPECT_THROW(domain_incremental_domains(d, c), ConfigError);  // d1 both trained and held out
}

TEST(DomainIncrementalSettings, DatasetTestSplitUsesTheDatasetsOwnFlags) {
  data::Dataset d = data::make_synthetic_dataset(120, 0);
  config::RunConfig c = settings_config();
  c.num_partitions = 3;
  c.test_split = "dataset";
  EXPECT_THROW(domain_incremental_domains(d, c), ConfigError);  // synthetic has no test set
  d.is_test = at::arange(120).remainder(4).eq(0);               // every 4th sample
  const auto domains = domain_incremental_domains(d, c);
  for (const auto& dom : domains) {
    EXPECT_TRUE(d.is_test.index_select(0, dom.test_idx).all().item<bool>());
    EXPECT_FALSE(d.is_test.index_select(0, dom.train_idx).any().item<bool>());
    EXPECT_EQ(dom.test_idx.numel(), 10);
  }
}

}  // namespace
}  // namespace moedil::partition
