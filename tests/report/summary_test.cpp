#include "moedil/report/summary.h"

#include <cmath>

#include <gtest/gtest.h>

#include "records.h"

namespace moedil::report {
namespace {

using testing::make_record;

TEST(ReportSummary, RunMetricsAndBalancedAccuracy) {
  const RunSummary s = summarize_run(make_record("r1", "cfg", "completed", 0.0, 7), "x/run.json");
  EXPECT_EQ(s.id, "r1");
  EXPECT_EQ(s.seed, "7");
  EXPECT_TRUE(s.completed());
  EXPECT_EQ(s.domains_trained, 2);
  EXPECT_EQ(s.epochs_done, 2);
  ASSERT_TRUE(s.cl);
  EXPECT_NEAR(s.cl->acc, 0.8, 1e-12);  // (0.9 + 0.7) / 2
  // final domain a [[4,1],[0,5]]: recalls 0.8, 1.0 -> 0.9; b [[3,2],[1,4]]: 0.6, 0.8 -> 0.7
  ASSERT_EQ(s.final_domain_balanced_acc.size(), 2u);
  EXPECT_NEAR(s.final_domain_balanced_acc[0], 0.9, 1e-12);
  EXPECT_NEAR(s.final_domain_balanced_acc[1], 0.7, 1e-12);
  EXPECT_NEAR(*s.balanced_acc, 0.8, 1e-12);
  EXPECT_EQ(s.final_domain_acc, (std::vector<double>{0.9, 0.7}));
  const auto v = s.values();
  EXPECT_NEAR(*v[0], 0.8, 1e-12);
  EXPECT_NEAR(*v[3], 0.1, 1e-12);  // FWT = R[0][1] - init[1] = 0.5 - 0.4
  EXPECT_FALSE(v[4]) << "FWT_baseline needs baselines";
  EXPECT_FALSE(v[7]) << "intransience needs baselines";
  EXPECT_NEAR(*v[8], 0.8, 1e-12);
}

TEST(ReportSummary, MetricsComputedWhenMissingFromTheRecord) {
  io::RunRecord r = make_record("r1", "cfg");
  r.metrics.reset();
  const RunSummary s = summarize_run(r, "x");
  ASSERT_TRUE(s.cl);
  EXPECT_NEAR(s.cl->acc, 0.8, 1e-12);
}

TEST(ReportSummary, UnfinishedRunHasNoClMetrics) {
  const RunSummary s = summarize_run(make_record("r2", "cfg", "failed"), "x");
  EXPECT_FALSE(s.completed());
  EXPECT_EQ(s.error, "loss is NaN");
  EXPECT_FALSE(s.cl);
  EXPECT_EQ(s.domains_trained, 1);
}

TEST(ReportSummary, ConfigStatisticsUseCompletedRunsOnly) {
  const std::vector<RunSummary> runs = {
      summarize_run(make_record("a1", "A", "completed", 0.0), "p"),
      summarize_run(make_record("a2", "A", "completed", 0.2), "p"),
      summarize_run(make_record("a3", "A", "failed"), "p"),
      summarize_run(make_record("a4", "A", "running"), "p"),
      summarize_run(make_record("b1", "B", "completed", 0.1), "p")};
  const auto configs = summarize_configs(runs, {"B", "A", "C"});
  ASSERT_EQ(configs.size(), 3u);
  EXPECT_EQ(configs[0].name, "B");
  EXPECT_EQ(configs[1].name, "A");
  const ConfigSummary& a = configs[1];
  EXPECT_EQ(a.completed, 2);
  EXPECT_EQ(a.not_completed, 2);
  // ACC of a1 = 0.8, a2 = (0.7 + 0.7) / 2 = 0.7
  const auto& acc = a.metrics[0];
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->n, 2);
  EXPECT_NEAR(acc->mean, 0.75, 1e-12);
  EXPECT_NEAR(*acc->std, std::sqrt(0.005), 1e-12);
  // final accuracy on domain a: 0.9 and 0.7
  ASSERT_EQ(a.final_domain_acc.size(), 2u);
  EXPECT_NEAR(a.final_domain_acc[0]->mean, 0.8, 1e-12);
  EXPECT_NEAR(a.final_domain_acc[1]->mean, 0.7, 1e-12);
  EXPECT_NEAR(*a.final_domain_acc[1]->std, 0.0, 1e-12);
  // n = 1: no std
  EXPECT_EQ(configs[0].metrics[0]->n, 1);
  EXPECT_FALSE(configs[0].metrics[0]->std);
  // a config without runs
  EXPECT_EQ(configs[2].completed, 0);
  EXPECT_FALSE(configs[2].metrics[0]);
}

}  // namespace
}  // namespace moedil::report
