#pragma once
// `moedil eval RUN_DIR`: the weights a run saved (its checkpoint.pt) evaluated again on every
// domain's test split, rebuilt from the run's own config and seeds.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/io/run_record.h"

namespace moedil::train {

struct RunEvaluation {
  std::string run_id;
  int64_t epochs_trained = 0;  ///< finished epochs the checkpoint holds
  /// The run's own accuracies after the same epoch (from run.json), one per domain; empty when
  /// run.json has no epochs.
  std::vector<double> recorded_acc;
  std::vector<io::EvalRecord> eval;  ///< one per domain, in domain order
  std::filesystem::path written;     ///< run_dir/eval.json
};

/// Rebuilds the run's data and model from run_dir/run.json, loads run_dir/checkpoint.pt and
/// evaluates every domain; writes the result to run_dir/eval.json. `overrides` may set device
/// and num_threads only. Throws DataError when the run has no run.json or no checkpoint.
RunEvaluation evaluate_run(const std::filesystem::path& run_dir,
                           const std::vector<std::string>& overrides);

}  // namespace moedil::train
