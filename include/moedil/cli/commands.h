#pragma once
// The subcommands of the moedil executable; main.cpp only parses the command line and calls one.
// Each returns the process exit code; errors propagate as moedil::Error subclasses.
#include <optional>
#include <string>
#include <vector>

namespace moedil::cli {

struct RunOptions {
  std::string config_path;
  std::vector<std::string> overrides;  ///< "a.b=value"
  std::optional<std::string> device;
  std::optional<int64_t> seed;
  std::optional<int64_t> threads;
};

struct ValidateOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  bool print = false;
};

struct ReportOptions {
  std::string target;        ///< run.json, run dir, results dir or metaconfig
  std::string out;           ///< empty: the target's default (see report::Collection)
  std::string format = "md,csv,html";
};

/// `moedil run`: loads, validates and runs one experiment.
int run_run(const RunOptions& options);
/// `moedil validate`: reports every config problem at once; --print shows the resolved config.
int run_validate(const ValidateOptions& options);
/// `moedil list`: every registered dataset, partition type, model, optimizer, loss, scheduler
/// and replay policy.
int run_list();

/// `moedil report`: tables on the terminal, and Markdown, CSV, PNG plots and an HTML page in the
/// output directory. Returns 2 when some run.json could not be read or a metaconfig's config has
/// no runs (the others are still reported), 0 otherwise.
int run_report(const ReportOptions& options);

/// Maps an exception to the exit code: 2 for usage, config and data errors, 130 when
/// interrupted, 1 otherwise.
int exit_code_for(const std::exception& e);

}  // namespace moedil::cli
