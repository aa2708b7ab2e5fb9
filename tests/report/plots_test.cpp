#include "moedil/report/plots.h"

#include <set>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "moedil/common/error.h"
#include "records.h"

namespace moedil::report {
namespace {

using testing::make_record;

// Decodes the PNG and checks its size and that it is a real picture: not uniform, several
// colours (axes, text, data).
void expect_real_image(const Png& png, PlotSize size) {
  ASSERT_FALSE(png.empty());
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  const cv::Mat img = cv::imdecode(png, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, size.width);
  EXPECT_EQ(img.rows, size.height);
  cv::Scalar mean, stddev;
  cv::meanStdDev(img, mean, stddev);
  EXPECT_GT(stddev[0] + stddev[1] + stddev[2], 10.0);
  std::set<uint32_t> colours;
  for (int y = 0; y < img.rows; y += 2) {
    for (int x = 0; x < img.cols; x += 2) {
      const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      colours.insert(p[0] << 16 | p[1] << 8 | p[2]);
    }
  }
  EXPECT_GE(colours.size(), 6u);
}

TEST(ReportPlots, RMatrixHeatmap) {
  const io::RunRecord r = make_record("r", "c");
  expect_real_image(plot_r_matrix(r.r_matrix, r.domains, "R"), kHeatmapSize);
  expect_real_image(plot_r_matrix({{0.1, 0.9}}, {"a", "b"}, "partial", {300, 200}), {300, 200});
  EXPECT_THROW(plot_r_matrix({}, {}, "x"), DataError);
  EXPECT_THROW(plot_r_matrix({{0.1, 0.2}, {0.3}}, {}, "x"), DataError);
}

TEST(ReportPlots, AccuracyCurves) {
  const io::RunRecord r = make_record("r", "c");
  expect_real_image(plot_accuracy_curves(r, "acc"), kChartSize);
  expect_real_image(plot_accuracy_curves(r, "acc", {640, 400}), {640, 400});
  io::RunRecord empty = r;
  empty.epochs.clear();
  EXPECT_THROW(plot_accuracy_curves(empty, "x"), DataError);
}

TEST(ReportPlots, Confusion) {
  expect_real_image(plot_confusion({{5, 0, 0}, {2, 3, 0}, {1, 0, 0}}, "cm"), kHeatmapSize);
  std::vector<std::vector<int64_t>> big(10, std::vector<int64_t>(10, 3));
  for (int i = 0; i < 10; ++i) big[i][i] = 1000;
  expect_real_image(plot_confusion(big, "10 classes"), kHeatmapSize);
  EXPECT_THROW(plot_confusion({{1, 2}}, "x"), DataError);
}

TEST(ReportPlots, ExpertUsage) {
  const io::RunRecord r = make_record("r", "c");
  EXPECT_EQ(usage_layers(r), (std::vector<std::string>{"blocks.1.moe"}));
  expect_real_image(plot_expert_usage(r, "blocks.1.moe", "usage"), kChartSize);
  EXPECT_THROW(plot_expert_usage(r, "blocks.9.moe", "usage"), DataError);
}

TEST(ReportPlots, ConfigComparison) {
  const std::vector<RunSummary> runs = {
      summarize_run(make_record("a1", "A", "completed", 0.0), "p"),
      summarize_run(make_record("a2", "A", "completed", 0.2), "p"),
      summarize_run(make_record("b1", "B", "completed", 0.1), "p")};
  const auto configs = summarize_configs(runs, {"A", "B"});
  expect_real_image(plot_config_domain_acc(configs, "configs"), kChartSize);
  EXPECT_THROW(plot_config_domain_acc(summarize_configs({}, {"A"}), "x"), DataError);
}

}  // namespace
}  // namespace moedil::report
