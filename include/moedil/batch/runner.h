#pragma once
// Runs the planned runs of a batch as child processes of the moedil executable: decides per
// run whether to skip, start, resume or retry it, keeps up to `jobs` children running, each
// pinned to one device and its share of the CPU cores, and isolates failures: a child that
// fails or crashes (any exit code or signal) never stops the others.
// Children are started with fork/execv from argv arrays; no shell ever sees a config string.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "moedil/batch/metaconfig.h"

namespace moedil::batch {

/// Status of a run another live process holds (not a failure of this batch).
inline constexpr const char* kRunningElsewhere = "running elsewhere";

enum class Action {
  start,           ///< no run.json yet: start it fresh in its run directory
  resume,          ///< interrupted, or "running" but no live process holds its lock (killed)
  retry,           ///< failed and --retry-failed: the old attempt is moved aside, start afresh
  skip_completed,  ///< completed before
  /// A live process (another batch, a Slurm task) is running it now: the batch waits until
  /// that process lets go, then takes what it left (completed, failed, or resumes it).
  skip_live,
  skip_failed,     ///< failed before and --retry-failed was not given
};
const char* action_name(Action a);

/// What a run directory says about a planned run, and what to do with it.
struct RunState {
  Action action = Action::start;
  std::string status;  ///< run.json's status ("" when there is none), or "unreadable"
  std::string error;   ///< run.json's error, or why it could not be read
};

/// Decides the action for one run from its directory: run.json's status and the run lock.
/// An unreadable run.json (truncated, hand-edited) is treated like a failed run.
RunState decide(const PlannedRun& run, bool retry_failed);

/// "cpu" -> {"cpu"}; "0,1" -> {"cuda:0", "cuda:1"}; "cuda:1,cpu" as written. Empty -> {}
/// (each run uses its config's device). Throws UsageError on anything else.
std::vector<std::string> parse_devices(const std::string& spec);

/// CPU cores this process may use (its affinity mask), at least 1.
int available_cores();

struct RunnerOptions {
  std::filesystem::path moedil = "/proc/self/exe";  ///< the executable the runs are started with
  int jobs = 1;
  std::vector<std::string> devices;  ///< round robin over job slots; empty = config's device
  int cores = 0;                     ///< cores to share between jobs; 0 = available_cores()
  bool pin_cores = true;             ///< sched_setaffinity each child to its slot's cores
  bool retry_failed = false;
  /// Where each child's stdout and stderr go: <console_dir>/<key>.out (appended).
  std::filesystem::path console_dir = "logs";
  std::function<int64_t()> draw_seed = batch::draw_seed;
  double poll_seconds = 0.05;
  /// How often runs held by another process are looked at again.
  double wait_poll_seconds = 0.5;
};

/// The argv (without argv[0] = the executable) that carries out `action` for `run`:
///   start/retry: run CONFIG --run-dir DIR [--set OVERRIDE]... [--set seeds.K=V]... --threads T
///                [--device D]
///   resume:      run --resume DIR --threads T [--device D]
/// Unseeded kinds get a seed from `draw` here, so run.json records the seed actually used and a
/// resume (which reads the config from run.json) continues with the same one.
std::vector<std::string> command_for(const PlannedRun& run, Action action, int threads,
                                     const std::string& device,
                                     const std::function<int64_t()>& draw);

/// One planned run after the batch: what was done and how it ended.
struct RunOutcome {
  std::size_t index = 0;  ///< into the plan
  std::string key;
  std::string config;
  /// The run's experiment group name (batch::planned_group_names), shown instead of `config`
  /// where set.
  std::string name;
  std::size_t group = 0;
  Action action = Action::start;
  /// completed | failed | interrupted | running elsewhere (kRunningElsewhere) | not started |
  /// planned (dry run)
  std::string status;
  std::string error;
  std::optional<double> acc;  ///< run.json's metrics.acc, else the last epoch's mean accuracy
  double wall_seconds = 0.0;  ///< this batch's time on the run (0 when skipped)
  int exit_code = 0;          ///< the child's exit code; 128+N when killed by signal N
  std::vector<std::string> command;
};

/// Called as runs start and end (for logging): event is "start", "end", or "wait" (the run is
/// held by another live process; the batch waits for it).
using RunEvent = std::function<void(const char* event, const RunOutcome&)>;

/// Executes the plan: decides every run, then starts the start/resume/retry ones, at most
/// options.jobs at a time, deciding each again right before it starts. A run that another live
/// process holds (at the start, or found so when this batch's child for it was refused) is
/// "running elsewhere", never failed: the batch waits until that process lets go and then
/// takes what it left (completed; failed; interrupted or killed: resumed here). So two batches
/// of one metaconfig run every run once and both end when all have ended. When `stop` becomes
/// true no further run starts, SIGINT is sent to the running children and the batch waits for
/// them (not for runs held elsewhere). Returns one outcome per planned run, in plan order.
std::vector<RunOutcome> execute(const std::vector<PlannedRun>& plan, const RunnerOptions& options,
                                const std::atomic<bool>& stop, const RunEvent& on_event = {});

/// The outcomes a dry run reports: each run's action and command, nothing started.
std::vector<RunOutcome> dry_run(const std::vector<PlannedRun>& plan, const RunnerOptions& options);

/// The summary table: key, config (the experiment group name where set, as `moedil report`
/// names it), group, action, status, ACC, wall time; a last line with the counts; one line per
/// failed run with its error.
std::string format_summary(const std::vector<RunOutcome>& outcomes);

/// True when any outcome is failed (the batch then exits 1).
bool any_failed(const std::vector<RunOutcome>& outcomes);

/// A command as a shell would need it typed (for logs and --dry-run only; nothing executes it).
std::string display_command(const std::filesystem::path& exe, const std::vector<std::string>& args);

}  // namespace moedil::batch
