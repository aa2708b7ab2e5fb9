#pragma once
// The report's figures as Vega v5 specs (https://vega.github.io/vega/docs/specification/) with
// their data inline, and the tidy table behind each (one row per plotted value, written as a
// CSV beside the spec for notebooks). Views stay readable from 1 to 100+ classes and 1 to 20+
// domains: cell sizes, value labels and tick labels adapt to the counts, choices with many
// values (the domain of a confusion matrix, the MoE layer) are menus, and every mark has a
// tooltip. Domains and epochs are numbered from 1 as in the log; classes keep their label ids.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/io/run_record.h"
#include "moedil/report/summary.h"
#include "moedil/report/table.h"

namespace moedil::report {

struct VegaFigure {
  std::string path;     ///< relative to the report directory, no extension: "runs/a1/r_matrix"
  std::string caption;
  nlohmann::json spec;  ///< a complete Vega v5 spec, data inline
  Table data;           ///< the tidy data behind it (written as path + ".csv")
  /// The PNGs to render from the spec (for papers): each sets `signals` (e.g. the domain of a
  /// confusion matrix) before drawing and is written to `path` (relative, with ".png").
  struct Png {
    std::string path;
    nlohmann::json signals = nlohmann::json::object();
  };
  std::vector<Png> pngs;
};

/// `s` as one file name: [A-Za-z0-9._-] kept, anything else '_'; never "", "." or "..".
std::string file_safe_name(const std::string& s);

/// Heatmap of R (rows: after training domain i, columns: evaluated domain j, colour 0..1,
/// values written in the cells up to 25 domains). Rows may be fewer than columns (a run still
/// going). Throws DataError if R is empty or ragged. `dir` ends with '/' (or is "").
VegaFigure r_matrix_figure(const io::RunRecord& run, const std::string& dir);

/// Accuracy on every domain (a line each) after every epoch of the run, x = epochs across all
/// domains (0 = before training, from init_acc), the training domains as shaded bands, a menu
/// that highlights one domain. Throws DataError when the run has no epoch.
VegaFigure accuracy_figure(const io::RunRecord& run, const std::string& dir);

/// The last evaluation's confusion matrix of every domain (rows truth, columns prediction,
/// coloured by the fraction of the true class, counts written up to 15 classes), one domain at a
/// time chosen from a menu; a PNG per domain. Throws DataError when no domain has a matrix.
VegaFigure confusion_figure(const io::RunRecord& run, const std::string& dir);

/// The MoE layers with expert usage in `run` (training usage per epoch), sorted.
std::vector<std::string> usage_layers(const io::RunRecord& run);

/// Share of training rows routed to each expert, a stacked bar per epoch, one layer at a time
/// chosen from a menu; a PNG per layer. Throws DataError when no layer has usage.
VegaFigure usage_figure(const io::RunRecord& run, const std::string& dir);

/// Final accuracy per domain, a bar per config (mean over its completed runs, a whisker of +-
/// one sample std when n >= 2). Throws DataError when no config has a completed run.
VegaFigure config_domain_acc_figure(const std::vector<ConfigSummary>& configs);

/// Accuracy on every domain after every epoch, mean over the completed runs of one group (its
/// seeds) with a band of +- one sample std. Epochs are those every run has. Throws DataError
/// when `runs` is empty or they have no epoch in common.
VegaFigure group_accuracy_figure(const std::string& group,
                                 const std::vector<const io::RunRecord*>& runs,
                                 const std::string& dir);

/// A table's rows as Vega data values: one object per row, numbers as numbers (n/a as null).
nlohmann::json table_values(const Table& t);

}  // namespace moedil::report
