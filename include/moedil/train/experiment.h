#pragma once
// One run from a resolved config: dataset -> domains -> model -> optimizer -> trainer, with
// run.json and the log file kept up to date. The entry point of `moedil run`.
#include <filesystem>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "moedil/config/resolve.h"
#include "moedil/config/run_config.h"
#include "moedil/io/run_record.h"

namespace moedil::train {

struct RunResult {
  std::string run_id;
  std::filesystem::path run_json;
  std::filesystem::path log_file;
  io::RunRecord record;
};

/// Names of every registered dataset, partition type, model and optimizer, for validation.
config::NameCatalog name_catalog();

/// "auto" -> cuda:0 when available, else cpu; "cuda[:N]" checked against the devices present.
/// Throws ConfigError for an unavailable device.
c10::Device resolve_device(const std::string& device);

/// Threads for LibTorch's intra-op pool: num_threads, or when 0 the CPUs this process may use
/// (available_cpus: its affinity mask, lowered to a cgroup CPU quota).
int64_t resolve_num_threads(int64_t num_threads);

/// Where a run writes, and whether it continues an earlier one.
struct RunPlace {
  /// Empty: a fresh <results_dir>/<config name>/<run id>. Otherwise exactly this directory;
  /// its name becomes the run id.
  std::filesystem::path run_dir;
  /// Continue the run in run_dir from its checkpoint.pt (from the start when it has none).
  bool resume = false;
};

/// Runs the experiment. run.json is written before training (status running), after every
/// epoch, and at the end (completed), or with status failed / interrupted and the error when
/// something throws, after which the exception is rethrown. checkpoint.pt in the run dir is
/// rewritten after every epoch. The run dir is locked (io::RunLock) while the run lives.
/// Throws UsageError when run_dir already holds a run and resume is false, or when another
/// live process owns it; IoError when the results disk cannot hold the run.
RunResult run_experiment(const config::RunConfig& config, const RunPlace& place = {});

/// run_dir/run.json read back. Throws DataError when there is none or it cannot be read.
io::RunRecord read_saved_run(const std::filesystem::path& run_dir);

/// The resolved config a saved run ran with (from its run.json record), with `overrides`
/// applied; only device and num_threads may change (UsageError otherwise).
config::RunConfig config_of_run(const io::RunRecord& saved, const std::filesystem::path& run_dir,
                                const std::vector<std::string>& overrides);

/// `moedil run --resume DIR`: the run in DIR continued with the resolved config saved in its
/// run.json (`overrides` may change device and num_threads only). A completed run is returned
/// as it is. Throws DataError when DIR holds no readable run.json.
RunResult resume_experiment(const std::filesystem::path& run_dir,
                            const std::vector<std::string>& overrides);

}  // namespace moedil::train
