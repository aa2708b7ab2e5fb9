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
  std::string mem;      ///< --mem per node, e.g. 16G (empty: the partition's default)
  std::string account;  ///< --account
  std::string qos;      ///< --qos
  std::string gres;     ///< --gres, e.g. gpu:a100:1 for a GPU type
  /// Further #SBATCH options, each one "--name=value" (e.g. --constraint=a100).
  std::vector<std::string> sbatch_lines;
  /// Shell lines the task runs before moedil (module load ..., conda activate ...): the user's
  /// own commands, written as given, one per line.
  std::vector<std::string> setup_lines;
  /// > 0: Slurm sends the task's shell USR1 this many seconds before the time limit; the shell
  /// stops the run (SIGTERM: it ends at its next step, keeping the last epoch's checkpoint),
  /// requeues the array task with scontrol and the requeued task resumes the run.
  int requeue_before = 0;
};

/// Throws UsageError when a value that goes on an #SBATCH line (partition, time, log dir, job
/// name, mem, account, qos, gres, the extra lines) holds a character outside
/// [A-Za-z0-9_./:%+,=@-], an extra line does not start with "--", a setup line holds a line
/// break or NUL, or a count is negative.
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
