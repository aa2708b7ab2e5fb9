// The predecessor's pretraining draw: uniform over the whole dataset before partitioning, the
// drawn samples out of the domains (without replacement) and train_frac shrunk.
#include "moedil/partition/run_domains.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/partition/registry.h"
#include "domain_rows.h"

namespace moedil::partition {
namespace {

using testing::to_vector;

/// n images whose pixels all hold their row number (n <= 256), 4 classes.
data::Dataset numbered_dataset(int64_t n) {
  data::Dataset d;
  d.name = "numbered";
  d.images = at::arange(n, at::kLong).to(at::kByte).view({n, 1, 1, 1}).expand({n, 1, 2, 2})
                 .contiguous();
  d.labels = at::arange(n, at::kLong).remainder(4);
  d.num_classes = 4;
  return d;
}

config::RunConfig pretrain_config(int64_t num_samples, bool with_replacement) {
  config::RunConfig c;
  c.partition.type = "static";
  c.num_partitions = 2;
  c.train_frac = 0.75;
  c.seeds.partition = 3;
  c.seeds.pretrain = 7;
  c.pretrain.enabled = true;
  c.pretrain.num_samples = num_samples;
  c.pretrain.with_replacement = with_replacement;
  return c;
}

/// The original row numbers of `idx` in a domain's images.
std::vector<int64_t> numbers(const Domain& dom, const at::Tensor& idx) {
  return to_vector(dom.images.index_select(0, idx).select(1, 0).select(1, 0).select(1, 0));
}

TEST(RunDomains, WithoutReplacementTheDrawLeavesTheDomainsAndShrinksTrainFrac) {
  const data::Dataset d = numbered_dataset(240);
  const config::RunConfig c = pretrain_config(40, false);
  const RunDomains run = make_run_domains(d, c);
  ASSERT_TRUE(run.pretraining.has_value());
  const std::vector<int64_t> drawn = draw_pretraining_rows(240, c);
  ASSERT_EQ(drawn.size(), 40u);
  EXPECT_EQ(std::set<int64_t>(drawn.begin(), drawn.end()).size(), 40u);  // distinct
  // The pretraining set is those rows, in the order drawn, labels with them.
  EXPECT_EQ(numbers(*run.pretraining, run.pretraining->train_idx), drawn);
  EXPECT_EQ(to_vector(run.pretraining->labels.index_select(0, run.pretraining->train_idx)),
            to_vector(d.labels.index_select(0, data::index_tensor(drawn))));
  EXPECT_EQ(run.pretraining->test_idx.numel(), 0);
  // The domains hold the other 200 rows, none drawn, each once.
  std::set<int64_t> seen;
  ASSERT_EQ(run.domains.size(), 2u);
  for (const Domain& dom : run.domains) {
    for (const at::Tensor& idx : {dom.train_idx, dom.test_idx}) {
      for (int64_t r : numbers(dom, idx)) {
        EXPECT_TRUE(seen.insert(r).second) << r;
        EXPECT_EQ(std::count(drawn.begin(), drawn.end(), r), 0) << r;
      }
    }
    // 100 rows each; train_frac 0.75 - 40 / 240 = 0.5833...: round(58.33) = 58 for training.
    EXPECT_EQ(dom.train_idx.numel(), 58);
    EXPECT_EQ(dom.test_idx.numel(), 42);
  }
  EXPECT_EQ(seen.size(), 200u);
  // Seeded by seeds.pretrain.
  config::RunConfig other = c;
  other.seeds.pretrain = 8;
  EXPECT_NE(draw_pretraining_rows(240, other), drawn);
  EXPECT_EQ(draw_pretraining_rows(240, c), drawn);
}

TEST(RunDomains, WithReplacementTheDomainsKeepEverySampleAndTheirTrainFrac) {
  const data::Dataset d = numbered_dataset(240);
  const config::RunConfig c = pretrain_config(300, true);
  const RunDomains run = make_run_domains(d, c);
  ASSERT_TRUE(run.pretraining.has_value());
  // min(num_samples, N) independent draws: repeats happen (300 of 240 would have to repeat).
  const std::vector<int64_t> drawn = draw_pretraining_rows(240, c);
  ASSERT_EQ(drawn.size(), 240u);
  EXPECT_LT(std::set<int64_t>(drawn.begin(), drawn.end()).size(), 240u);
  EXPECT_EQ(numbers(*run.pretraining, run.pretraining->train_idx), drawn);
  for (const Domain& dom : run.domains) EXPECT_EQ(dom.train_idx.numel(), 90);  // 0.75 x 120
}

TEST(RunDomains, ClassBalancedOrNoPretrainingIsThePlainPartition) {
  const data::Dataset d = numbered_dataset(240);
  config::RunConfig c = pretrain_config(40, false);
  c.pretrain.draw = "class_balanced";
  const RunDomains balanced = make_run_domains(d, c);
  EXPECT_FALSE(balanced.pretraining.has_value());
  const std::vector<Domain> plain = make_domains(d, c);
  ASSERT_EQ(balanced.domains.size(), plain.size());
  for (std::size_t j = 0; j < plain.size(); ++j) {
    EXPECT_EQ(to_vector(balanced.domains[j].train_idx), to_vector(plain[j].train_idx));
  }
  c.pretrain.draw = "dataset";
  c.pretrain.enabled = false;
  EXPECT_FALSE(make_run_domains(d, c).pretraining.has_value());
  c.pretrain.enabled = true;
  c.pretrain.num_samples = 0;
  EXPECT_FALSE(make_run_domains(d, c).pretraining.has_value());
}

// The draw never takes a test sample: not a held-out test_settings domain (which stays every
// domain's test set, whole), nor the dataset's own test rows under test_split "dataset"; N is
// the number of rows it may take.
TEST(RunDomains, TheDrawNeverTakesTestSamples) {
  data::Dataset d = numbered_dataset(240);
  d.domain_ids = at::arange(240, at::kLong).floor_divide(80);  // d0: 0..79, d1, d2: 160..239
  d.domain_names = {"d0", "d1", "d2"};
  config::RunConfig c = pretrain_config(60, false);
  c.partition.type = "domainIncremental";
  c.test_settings = {"d2"};
  const RunDomains held = make_run_domains(d, c);
  for (int64_t r : numbers(*held.pretraining, held.pretraining->train_idx)) EXPECT_LT(r, 160);
  ASSERT_EQ(held.domains.size(), 2u);
  int64_t trained = 0;
  for (const Domain& dom : held.domains) {
    const std::vector<int64_t> test = numbers(dom, dom.test_idx);
    EXPECT_EQ(test.size(), 80u);
    for (int64_t r : test) EXPECT_GE(r, 160);
    trained += dom.train_idx.numel();
  }
  EXPECT_EQ(trained, 100);  // 160 - 60
  data::Dataset split = numbered_dataset(240);
  split.is_test = at::arange(240, at::kLong).ge(200);  // rows 200..239: its own test set
  config::RunConfig own = pretrain_config(180, false);
  own.test_split = "dataset";
  const RunDomains run = make_run_domains(split, own);
  const std::vector<int64_t> drawn = numbers(*run.pretraining, run.pretraining->train_idx);
  ASSERT_EQ(drawn.size(), 180u);
  for (int64_t r : drawn) EXPECT_LT(r, 200);
  int64_t tested = 0;
  for (const Domain& dom : run.domains) tested += dom.test_idx.numel();
  EXPECT_EQ(tested, 40);
}

TEST(RunDomains, ADrawThatLeavesNoTrainingFractionIsAConfigError) {
  const data::Dataset d = numbered_dataset(240);
  try {
    make_run_domains(d, pretrain_config(200, false));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("pretrain.num_samples: 200 of the 240 samples"), std::string::npos)
        << message;
    EXPECT_NE(message.find("class_balanced"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace moedil::partition
