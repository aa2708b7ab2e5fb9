#include "moedil/report/tables.h"

#include <gtest/gtest.h>

#include "records.h"

namespace moedil::report {
namespace {

using testing::make_record;

std::vector<RunSummary> sample_runs() {
  return {summarize_run(make_record("a1", "A", "completed", 0.0, 1), "r/a1/run.json"),
          summarize_run(make_record("a2", "A", "completed", 0.2, 2), "r/a2/run.json"),
          summarize_run(make_record("a3", "A", "failed", 0.0, 3), "r/a3/run.json"),
          summarize_run(make_record("b1", "B", "running", 0.0, 1), "r/b1/run.json")};
}

TEST(ReportTables, RunsTableHasCompletedRunsOnly) {
  const Table t = runs_table(sample_runs());
  EXPECT_EQ(to_csv(t).substr(0, to_csv(t).find('\n')),
            "config,run,seed,ACC,AIA,BWT,FWT,FWT_baseline,forgetting,plasticity,intransience,"
            "balanced_acc");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1].display(), "a1");
  EXPECT_EQ(t.rows[0][3].csv(), "0.8");
  EXPECT_EQ(t.rows[0][7].display(), "n/a");   // FWT_baseline without baselines
  EXPECT_EQ(t.rows[0][10].display(), "n/a");  // intransience without baselines
}

TEST(ReportTables, PredecessorMetricsOnlyWhenAsked) {
  // a1: R = [[0.8, 0.5], [0.9, 0.7]]; with baselines [0.6, 0.75]:
  //   AIA_predecessor = (0.9 + 0.7) / 2 = 0.8 (= ACC); moedil's AIA = (0.8 + 0.8) / 2 = 0.8 too,
  //   so the baselines make the other two differ: FWT_predecessor = 0.5 - 0.75 = -0.25,
  //   intransigence_predecessor = 0.75 - 0.7 = 0.05 (moedil: ((0.6 - 0.8) + 0.05) / 2 = -0.075).
  io::RunRecord r = make_record("a1", "A");
  r.baseline_acc = std::vector<double>{0.6, 0.75};
  r.metrics = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, r.baseline_acc);
  const std::vector<RunSummary> runs = {summarize_run(r, "r/a1/run.json")};
  EXPECT_EQ(runs_table(runs).columns.size(), 3 + kMoedilMetricCount);
  const Table t = runs_table(runs, {}, true);
  ASSERT_EQ(t.columns.size(), 3 + kMetricNames.size());
  EXPECT_EQ(t.columns[12], "AIA_predecessor");
  EXPECT_EQ(t.columns[13], "FWT_predecessor");
  EXPECT_EQ(t.columns[14], "intransigence_predecessor");
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][12].csv(), "0.8");
  EXPECT_EQ(t.rows[0][13].csv(), "-0.25");
  EXPECT_EQ(t.rows[0][14].csv(), "0.05");
  EXPECT_EQ(t.rows[0][10].csv(), "-0.075");  // moedil's intransience
  const auto configs = summarize_configs(runs, {"A"});
  EXPECT_EQ(config_stats_table(configs).rows.size(), kMoedilMetricCount);
  const Table stats = config_stats_table(configs, true);
  ASSERT_EQ(stats.rows.size(), kMetricNames.size());
  EXPECT_EQ(stats.rows[11][1].display(), "intransigence_predecessor");
  EXPECT_EQ(stats.rows[11][3].csv(), "0.05");
  const Table side = configs_side_by_side(configs, true);
  EXPECT_EQ(side.rows.back()[0].display(), "intransigence_predecessor");
  EXPECT_EQ(side.rows.back()[1].display(), "0.0500 +- n/a (n=1)");
}

TEST(ReportTables, PredecessorMetricsNeedTheWholeMatrix) {
  const RunSummary s = summarize_run(make_record("b1", "B", "running"), "r/b1/run.json");
  EXPECT_FALSE(s.predecessor.has_value());
  EXPECT_FALSE(s.values()[kMoedilMetricCount].has_value());
}

TEST(ReportTables, StatusTableListsTheOthers) {
  const Table t = status_table(sample_runs());
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1].display(), "a3");
  EXPECT_EQ(t.rows[0][2].display(), "failed");
  EXPECT_EQ(t.rows[0][5].display(), "loss is NaN");
  EXPECT_EQ(t.rows[1][2].display(), "running");
  EXPECT_EQ(t.rows[1][3].display(), "1");  // domains trained
}

TEST(ReportTables, ConfigStatsLongAndSideBySide) {
  const auto configs = summarize_configs(sample_runs(), {"A", "B"});
  const Table stats = config_stats_table(configs);
  ASSERT_EQ(stats.rows.size(), 2 * kMoedilMetricCount);
  EXPECT_EQ(stats.rows[0][0].display(), "A");
  EXPECT_EQ(stats.rows[0][1].display(), "ACC");
  EXPECT_EQ(stats.rows[0][2].display(), "2");
  EXPECT_EQ(stats.rows[0][3].csv(), "0.75");
  EXPECT_EQ(stats.rows[kMoedilMetricCount][2].display(), "0") << "B has no completed run";
  EXPECT_EQ(stats.rows[kMoedilMetricCount][3].display(), "n/a");
  const Table side = configs_side_by_side(configs);
  EXPECT_EQ(side.columns, (std::vector<std::string>{"metric", "A", "B"}));
  EXPECT_EQ(side.rows[0][1].display(), "2 / 1");
  EXPECT_EQ(side.rows[0][2].display(), "0 / 1");
  EXPECT_EQ(side.rows[1][1].display(), "0.7500 +- 0.0707 (n=2)");
}

TEST(ReportTables, PerClassTables) {
  const io::RunRecord r = make_record("a1", "A");
  const Table fin = final_class_table(r);
  // 2 domains x (2 classes + balanced accuracy row)
  ASSERT_EQ(fin.rows.size(), 6u);
  EXPECT_EQ(fin.rows[0][0].display(), "a");
  EXPECT_EQ(fin.rows[0][4].csv(), "1");    // precision of class 0 in a: 4/4
  EXPECT_EQ(fin.rows[0][5].csv(), "0.8");  // recall 4/5
  EXPECT_EQ(fin.rows[2][5].csv(), "0.9");  // balanced accuracy of a
  const Table ep = epoch_balanced_table(r);
  ASSERT_EQ(ep.rows.size(), 2u);
  // after epoch 0 domain b's confusion is [[5,0],[5,0]]: recalls 1 and 0
  EXPECT_EQ(ep.rows[0][3].csv(), "0.5");
  const Table lng = class_metrics_long({&r});
  EXPECT_EQ(lng.rows.size(), 2u * 2u * 2u);  // epochs x domains x classes
  // epoch 0, domain b, class 1: never predicted
  EXPECT_EQ(lng.rows[3][5].display(), "b");
  EXPECT_EQ(lng.rows[3][9].display(), "n/a");
  EXPECT_EQ(lng.rows[3][10].csv(), "0");
}

}  // namespace
}  // namespace moedil::report
