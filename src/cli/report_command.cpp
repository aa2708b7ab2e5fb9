// `moedil report`, kept apart from commands.cpp so that it compiles without LibTorch.
#include <iostream>

#include <spdlog/logger.h>

#include "moedil/cli/commands.h"
#include "moedil/io/logging.h"
#include "moedil/report/collect.h"
#include "moedil/report/report.h"

namespace moedil::cli {

int run_report(const ReportOptions& options) {
  const report::ReportFormats formats =
      options.format_given ? report::parse_formats(options.format) : report::ReportFormats{};
  const report::Collection c = report::collect_runs(options.target);
  const std::filesystem::path out = options.out.empty() ? c.default_out : std::filesystem::path(options.out);
  const report::ReportOutput written =
      report::write_report(c, out, formats, options.predecessor_metrics);
  std::cout << written.terminal << std::flush;
  for (const std::string& n : written.notes) io::logger()->warn("[report] {}", n);
  for (const std::string& p : c.problems) io::logger()->error("[report] {}", p);
  io::logger()->info("[report] {} runs, {} files written to {}{}", c.runs.size(),
                     written.files.size(), out.string(),
                     formats.html ? " (open " + (out / "report.html").string() + ")" : "");
  if (!c.problems.empty()) {
    io::logger()->error("[report] {} problem(s): the report leaves them out", c.problems.size());
    return 2;
  }
  if (!written.png_error.empty()) {
    io::logger()->error("[report] --format png: the PNGs were not written (the rest was): {}",
                        written.png_error);
    return 1;
  }
  return 0;
}

}  // namespace moedil::cli
