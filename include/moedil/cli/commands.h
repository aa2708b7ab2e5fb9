#pragma once
// The subcommands of the moedil executable; main.cpp only parses the command line and calls one.
// Each returns the process exit code; errors propagate as moedil::Error subclasses.
#include <optional>
#include <string>
#include <vector>

namespace moedil::cli {

struct RunOptions {
  std::string config_path;  ///< empty with resume_dir
  std::string run_dir;      ///< --run-dir: run in exactly this directory
  std::string resume_dir;   ///< --resume: continue the run in this directory
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

/// `moedil run`: loads, validates and runs one experiment.
int run_run(const RunOptions& options);
/// `moedil validate`: reports every config problem at once; --print shows the resolved config.
int run_validate(const ValidateOptions& options);
/// `moedil list`: every registered dataset, partition type, model, optimizer, loss, scheduler
/// and replay policy.
int run_list();

/// Maps an exception to the exit code: 2 for usage, config and data errors, 130 when
/// interrupted, 1 otherwise.
int exit_code_for(const std::exception& e);

}  // namespace moedil::cli
