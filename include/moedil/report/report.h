#pragma once
// Writes a report for the runs of a Collection: tables (Markdown, CSV), PNG plots and one
// self-contained HTML page, and returns the summary tables for the terminal.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/report/collect.h"

namespace moedil::report {

struct ReportFormats {
  bool md = true;
  bool csv = true;
  bool html = true;
};

/// Parses "md,csv,html" (any subset, any order). Throws UsageError naming an unknown format.
ReportFormats parse_formats(const std::string& list);

struct ReportOutput {
  std::vector<std::filesystem::path> files;  ///< everything written, in order
  std::string terminal;                      ///< summary tables as aligned text
};

/// Writes into `out_dir` (created): report.md, report.html, runs.csv, configs.csv,
/// configs_side_by_side.csv, final_domain_acc.csv, status.csv, class_metrics.csv,
/// problems.csv (when there are problems) as selected by `formats`; PNGs always (in a build
/// with OpenCV; without it the tables say there are no figures): final_acc_by_config.png
/// (several runs) and runs/<run id>/{r_matrix, accuracy, confusion_<domain>, usage_<layer>}.png.
/// Files are written atomically. `predecessor_metrics` adds the predecessor's variants of AIA,
/// FWT and intransience (kMetricNames after kMoedilMetricCount) to the metric tables, labelled.
ReportOutput write_report(const Collection& collection, const std::filesystem::path& out_dir,
                          const ReportFormats& formats, bool predecessor_metrics = false);

}  // namespace moedil::report
