#pragma once
// `moedil batch META --slurm`: a Slurm job array with one task per run that needs work. Each
// task runs `moedil batch META --run-key=<key>`, which carries out just that run with the usual
// skip / resume semantics, so a resubmitted array continues where the last one stopped.
// The script is generated text; every value in its shell body goes through shell_quote, and
// #SBATCH lines carry only values checked against a safe character set.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/batch/metaconfig.h"

namespace moedil::batch {

struct SlurmOptions {
  std::string partition;  ///< empty: the cluster's default partition
  std::string time;       ///< empty: the partition's default limit
  int gpus_per_task = 0;
  int cpus_per_task = 0;   ///< 0: Slurm's default; each task's run uses this many threads
  int max_parallel = 0;    ///< 0: no limit (the %K of --array)
  std::filesystem::path moedil;      ///< absolute path of the executable the tasks run
  std::filesystem::path metaconfig;  ///< absolute path of the metaconfig
  std::filesystem::path workdir;     ///< absolute; the tasks cd here (relative config paths)
  std::filesystem::path log_dir;     ///< absolute; one <job>-<array id>_<task>.out per task
  std::string job_name = "moedil";
  std::string devices;  ///< passed on as --devices when not empty
  std::string configs_dir = "configs";  ///< passed on as --configs-dir
  bool retry_failed = false;
};

/// Throws UsageError when a value that goes on an #SBATCH line (partition, time, log dir, job
/// name) holds a character outside [A-Za-z0-9_./:%+,=@-], or a count is negative.
void check_slurm_options(const SlurmOptions& options);

/// The sbatch script for the runs with these keys (array task i runs keys[i]).
std::string sbatch_script(const SlurmOptions& options, const std::vector<std::string>& keys);

/// Runs `sbatch --parsable SCRIPT` (no shell; `sbatch` is looked up in PATH) and returns the
/// job id. Throws IoError with sbatch's output when it cannot run or exits non-zero.
std::string submit_sbatch(const std::filesystem::path& script, const std::string& sbatch = "sbatch");

/// Runs argv[0] (looked up in PATH) with the rest as arguments, stdout and stderr captured
/// together. Returns the exit status (128+N for signal N) and the output.
struct Captured {
  int exit_code = 0;
  std::string output;
};
Captured run_captured(const std::vector<std::string>& argv);

}  // namespace moedil::batch
