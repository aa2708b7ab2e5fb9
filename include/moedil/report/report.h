#pragma once
// Writes a report for the runs of a Collection: tables (Markdown, CSV), figures (Vega specs with
// their tidy data, PNGs drawn from them) and one self-contained HTML page, and returns the
// summary tables for the terminal.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/report/collect.h"

namespace moedil::report {

/// PNGs of the figures: not at all, when Chromium is installed (the default), or required
/// (`--format ...,png`: no Chromium is a UsageError, a failed rendering an error after the rest
/// is written).
enum class PngMode { Off, IfAvailable, Required };

struct ReportFormats {
  bool md = true;
  bool csv = true;
  bool html = true;
  PngMode png = PngMode::IfAvailable;
};

/// Parses "md,csv,html,png" (any subset, any order; png listed = PngMode::Required, left out =
/// Off). Throws UsageError naming an unknown format.
ReportFormats parse_formats(const std::string& list);

struct ReportOutput {
  std::vector<std::filesystem::path> files;  ///< everything written, in order
  std::string terminal;                      ///< summary tables as aligned text
  std::vector<std::string> notes;  ///< what could not be drawn or written, and why
  std::string png_error;  ///< with PngMode::Required: why the PNGs are missing ("" = written)
};

/// Writes into `out_dir` (created): report.md, report.html, runs.csv, configs.csv,
/// configs_side_by_side.csv, final_domain_acc.csv, status.csv, class_metrics.csv,
/// problems.csv (when there are problems) as selected by `formats`; every figure's Vega spec
/// (<figure>.vg.json) and data (<figure>.csv) always: final_acc_by_config (several runs),
/// groups/<group>/accuracy (groups with 2+ completed runs: mean and band over seeds),
/// runs/<run id>/{r_matrix, accuracy, confusion, usage}; PNGs rendered from them by headless
/// Chromium per `formats.png` (runs/<run id>/confusion_<domain>.png, usage_<layer>.png, and
/// <figure>.png for the others). Files are written atomically. `predecessor_metrics` adds the predecessor's variants of AIA,
/// FWT and intransience (kMetricNames after kMoedilMetricCount) to the metric tables, labelled.
ReportOutput write_report(const Collection& collection, const std::filesystem::path& out_dir,
                          const ReportFormats& formats, bool predecessor_metrics = false);

}  // namespace moedil::report
