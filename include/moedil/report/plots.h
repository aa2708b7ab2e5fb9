#pragma once
// The report's figures, drawn with OpenCV and returned as PNG bytes (written to files and
// embedded in the HTML page). Every figure has axes, axis labels, a title and, where several
// series share it, a legend. Sizes are fixed by PlotSize, whatever the data.
#include <cstdint>
#include <string>
#include <vector>

#include "moedil/io/run_record.h"
#include "moedil/report/summary.h"

namespace moedil::report {

struct PlotSize {
  int width = 1000;
  int height = 560;
};
inline constexpr PlotSize kHeatmapSize{760, 640};
inline constexpr PlotSize kChartSize{1000, 560};

using Png = std::vector<unsigned char>;

/// R-matrix heatmap (rows: after training domain i, columns: evaluated domain j, colour scale
/// 0..1) with the value in each cell. Rows may be fewer than columns (a run still going).
/// Throws DataError if R is empty or has ragged rows.
Png plot_r_matrix(const std::vector<std::vector<double>>& r, const std::vector<std::string>& domains,
                  const std::string& title, PlotSize size = kHeatmapSize);

/// Accuracy on every domain (one line each) after every epoch, x = epochs across all domains
/// (0 = before training, from init_acc), training-domain boundaries dashed and labelled.
/// Throws DataError when the run has no epoch.
Png plot_accuracy_curves(const io::RunRecord& run, const std::string& title,
                         PlotSize size = kChartSize);

/// Confusion matrix (rows truth, columns prediction) with the count in each cell, coloured by
/// the row-normalised fraction (recall on the diagonal). Throws DataError if not square/empty.
Png plot_confusion(const std::vector<std::vector<int64_t>>& confusion, const std::string& title,
                   PlotSize size = kHeatmapSize);

/// The MoE layers with expert usage in `run` (training usage per epoch), sorted.
std::vector<std::string> usage_layers(const io::RunRecord& run);

/// Share of training rows routed to each expert of `layer`, one stacked bar per epoch across
/// all domains, domain boundaries dashed and labelled. Throws DataError when the layer has no
/// usage in any epoch.
Png plot_expert_usage(const io::RunRecord& run, const std::string& layer, const std::string& title,
                      PlotSize size = kChartSize);

/// Mean +- std (error bars; none when n = 1) of the final accuracy on each domain, one bar
/// per config in each domain group. Throws DataError when no config has a completed run.
Png plot_config_domain_acc(const std::vector<ConfigSummary>& configs, const std::string& title,
                           PlotSize size = kChartSize);

}  // namespace moedil::report
