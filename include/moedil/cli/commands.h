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

struct EvalOptions {
  std::string run_dir;
  std::vector<std::string> fixed_experts;  ///< "LAYER:E"
  std::string dump_dir;                    ///< --dump DIR ("" = no dump)
  bool dump_inputs = false;                ///< --dump-inputs
  std::optional<std::string> device;
  std::optional<int64_t> threads;
};

struct ExportOptions {
  std::string run_dir;
  std::string state_dict;          ///< --state-dict FILE
  std::string naming = "moedil";   ///< --naming moedil|torchvision|timm
};

struct ValidateOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  bool print = false;
  bool explain = false;
};

struct BatchOptions {
  std::string metaconfig_path;
  /// Where a config path of the metaconfig is also looked for (after the current directory).
  std::string configs_dir = "configs";
  int jobs = 1;
  std::string devices;  ///< "cpu" or "0,1,..."; empty = each config's device
  bool dry_run = false;
  bool retry_failed = false;
  bool slurm = false;
  std::string partition;
  std::string time;
  int gpus_per_task = 0;
  int cpus_per_task = 0;
  int max_parallel = 0;
  std::string mem;
  std::string account;
  std::string qos;
  std::string gres;
  std::vector<std::string> sbatch_lines;
  std::vector<std::string> setup_lines;
  int requeue_before = 0;
  std::string run_key;        ///< internal (Slurm tasks): carry out only the run with this key
  std::string moedil_binary;  ///< internal (tests): the executable runs are started with
  std::string sbatch = "sbatch";
};

struct StatusOptions {
  std::string dir = "results";
  bool watch = false;
  double interval_seconds = 5.0;
};

/// `moedil batch`: every (config, seed group) of a metaconfig, locally or as a Slurm array.
/// Exit 0 when every run completed, 1 when any failed, 2 for a bad metaconfig or config,
/// 130 when interrupted.
int run_batch(const BatchOptions& options);
/// `moedil status`: one row per run below a results directory.
int run_status(const StatusOptions& options);

struct ReportOptions {
  std::string target;        ///< run.json, run dir, results dir or metaconfig
  std::string out;           ///< empty: the target's default (see report::Collection)
  /// Used when format_given: a subset of md,csv,html,png (listing png requires PNGs). Else md,
  /// csv and html, with PNGs when Chromium is installed.
  std::string format;
  bool format_given = false;
  bool predecessor_metrics = false;  ///< also the predecessor's AIA, FWT and intransigence
};

/// `moedil run`: loads, validates and runs one experiment.
int run_run(const RunOptions& options);
/// `moedil eval`: a run's saved weights evaluated again on every domain.
int run_eval(const EvalOptions& options);
/// `moedil validate`: reports every config problem at once; --print shows the resolved config.
int run_validate(const ValidateOptions& options);

/// `moedil export`: the run's final weights as a torch.save state dict.
int run_export(const ExportOptions& options);
/// `moedil list`: every registered dataset, partition type, model, optimizer, loss, scheduler
/// and replay policy.
int run_list();

/// `moedil report`: tables on the terminal, and Markdown, CSV, figures and an HTML page in the
/// output directory. Returns 2 when some run.json could not be read or a metaconfig's config has
/// no runs (the others are still reported), 1 when `png` was listed and the PNGs could not be
/// drawn (the rest is written), 0 otherwise.
int run_report(const ReportOptions& options);

/// Maps an exception to the exit code: 2 for usage, config and data errors, 130 when
/// interrupted, 1 otherwise.
int exit_code_for(const std::exception& e);

}  // namespace moedil::cli
