#include "moedil/report/report.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "moedil/common/error.h"
#include "moedil/report/plots.h"
#include "records.h"

namespace moedil::report {
namespace {

namespace fs = std::filesystem;
using testing::make_record;
using testing::TempDir;
using testing::write_run;
using testing::write_text;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

TEST(Report, ParseFormats) {
  const ReportFormats all = parse_formats("md,csv,html");
  EXPECT_TRUE(all.md && all.csv && all.html);
  const ReportFormats csv = parse_formats("csv");
  EXPECT_TRUE(csv.csv && !csv.md && !csv.html);
  EXPECT_THROW(parse_formats("pdf"), UsageError);
  EXPECT_THROW(parse_formats(""), UsageError);
}

class ReportFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    results_ = tmp_.path() / "results";
    write_run(results_ / "A", make_record("a1", "A", "completed", 0.0, 1));
    write_run(results_ / "A", make_record("a2", "A", "completed", 0.2, 2));
    write_run(results_ / "A", make_record("a3", "A", "failed", 0.0, 3));
    write_run(results_ / "B", make_record("b1", "B", "completed", 0.1, 1));
    write_text(results_ / "B" / "broken" / "run.json", "{\"schema_version\": 1, \"run\"");
    out_ = tmp_.path() / "rep";
    output_ = write_report(collect_runs(results_), out_, ReportFormats{});
  }
  TempDir tmp_;
  fs::path results_, out_;
  ReportOutput output_;
};

TEST_F(ReportFiles, WritesEveryFile) {
  for (const char* f : {"report.md", "report.html", "runs.csv", "status.csv", "configs.csv",
                        "configs_side_by_side.csv", "final_domain_acc.csv", "class_metrics.csv",
                        "problems.csv", "final_acc_by_config.png", "runs/a1/r_matrix.png",
                        "runs/a1/accuracy.png", "runs/a1/confusion_a.png",
                        "runs/a1/confusion_b.png", "runs/a1/usage_blocks.1.moe.png",
                        "runs/a3/accuracy.png"}) {
    EXPECT_TRUE(fs::exists(out_ / f)) << f;
  }
  std::size_t regular = 0;
  for (const auto& e : fs::recursive_directory_iterator(out_)) regular += e.is_regular_file();
  EXPECT_EQ(output_.files.size(), regular);
}

TEST_F(ReportFiles, RunsCsvColumnsAndValues) {
  const auto l = lines(slurp(out_ / "runs.csv"));
  ASSERT_EQ(l.size(), 4u);  // header + 3 completed runs; the failed one is not here
  EXPECT_EQ(l[0], "config,run,seed,ACC,AIA,BWT,FWT,forgetting,plasticity,intransience,balanced_acc");
  // a1: R = [[0.8,0.5],[0.9,0.7]], init [0.5,0.4]: ACC 0.8, AIA (0.8 + 0.8)/2 = 0.8,
  // BWT 0.9-0.8 = 0.1, FWT 0.5-0.4 = 0.1, forgetting max(0.8)-0.9 = -0.1, plasticity 0.75,
  // balanced (0.9 + 0.7)/2 = 0.8
  EXPECT_EQ(l[1], "A,a1,1,0.8,0.8,0.1,0.1,-0.1,0.75,n/a,0.8");
  EXPECT_EQ(l[3].substr(0, 8), "B,b1,1,0");
}

TEST_F(ReportFiles, ConfigsCsvHasStatisticsOverCompletedRuns) {
  const auto l = lines(slurp(out_ / "configs.csv"));
  EXPECT_EQ(l[0], "config,metric,n,mean,std,ci95_low,ci95_high");
  // A: ACC 0.8 and 0.7 -> mean 0.75, std sqrt(0.005) = 0.0707106781, half width
  // 12.7062 * 0.0707106781 / sqrt(2) = 0.63531
  EXPECT_EQ(l[1], "A,ACC,2,0.75,0.07071067812,0.11469,1.38531");
  // B: one run: std and CI undefined
  EXPECT_EQ(l[1 + kMetricNames.size()], "B,ACC,1,0.75,n/a,n/a,n/a");
}

TEST_F(ReportFiles, StatusAndProblems) {
  const std::string status = slurp(out_ / "status.csv");
  EXPECT_NE(status.find("A,a3,failed,1,1,loss is NaN,"), std::string::npos) << status;
  const std::string problems = slurp(out_ / "problems.csv");
  EXPECT_NE(problems.find((results_ / "B" / "broken" / "run.json").string()), std::string::npos);
  EXPECT_NE(output_.terminal.find("failed"), std::string::npos);
  EXPECT_NE(output_.terminal.find("broken"), std::string::npos);
  EXPECT_NE(output_.terminal.find("0.7500 +- 0.0707 (n=2)"), std::string::npos) << output_.terminal;
}

TEST_F(ReportFiles, PngsHaveTheirSizesAndContent) {
  for (const auto& [file, size] : std::vector<std::pair<std::string, PlotSize>>{
           {"final_acc_by_config.png", kChartSize},
           {"runs/a1/r_matrix.png", kHeatmapSize},
           {"runs/a1/confusion_b.png", kHeatmapSize},
           {"runs/a1/accuracy.png", kChartSize},
           {"runs/b1/usage_blocks.1.moe.png", kChartSize}}) {
    const cv::Mat img = cv::imread((out_ / file).string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty()) << file;
    EXPECT_EQ(img.cols, size.width) << file;
    EXPECT_EQ(img.rows, size.height) << file;
    cv::Scalar mean, stddev;
    cv::meanStdDev(img, mean, stddev);
    EXPECT_GT(stddev[0], 10.0) << file;
  }
}

TEST_F(ReportFiles, MarkdownAndHtmlHoldTablesAndImages) {
  const std::string md = slurp(out_ / "report.md");
  EXPECT_NE(md.find("![final per-domain accuracy by config](final_acc_by_config.png)"),
            std::string::npos);
  EXPECT_NE(md.find("(runs/a1/r_matrix.png)"), std::string::npos);
  EXPECT_NE(md.find("| config | metric | n | mean | std | ci95_low | ci95_high |"),
            std::string::npos);
  const std::string html = slurp(out_ / "report.html");
  EXPECT_NE(html.find("data:image/png;base64,"), std::string::npos);
  EXPECT_EQ(html.find("src=\"runs/"), std::string::npos) << "images embedded, not linked";
  EXPECT_NE(html.find("Per-class precision, recall, F1"), std::string::npos);
}

TEST(Report, FormatsSelectFiles) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  const fs::path out = tmp.path() / "o";
  write_report(collect_runs(tmp.path() / "A" / "a1"), out, parse_formats("csv"));
  EXPECT_TRUE(fs::exists(out / "runs.csv"));
  EXPECT_FALSE(fs::exists(out / "report.md"));
  EXPECT_FALSE(fs::exists(out / "report.html"));
  EXPECT_FALSE(fs::exists(out / "problems.csv"));
  EXPECT_FALSE(fs::exists(out / "final_acc_by_config.png")) << "a single run has no comparison";
  EXPECT_TRUE(fs::exists(out / "runs" / "a1" / "r_matrix.png"));
}

}  // namespace
}  // namespace moedil::report
