#pragma once
// One run from a resolved config: dataset -> domains -> model -> optimizer -> trainer, with
// run.json and the log file kept up to date. The entry point of `moedil run`.
#include <filesystem>
#include <string>

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

/// Threads for LibTorch's intra-op pool: num_threads, or all cores when 0.
int64_t resolve_num_threads(int64_t num_threads);

/// Runs the experiment. run.json is written before training (status running), after every
/// epoch, and at the end (completed), or with status failed / interrupted and the error when
/// something throws, after which the exception is rethrown.
RunResult run_experiment(const config::RunConfig& config);

}  // namespace moedil::train
