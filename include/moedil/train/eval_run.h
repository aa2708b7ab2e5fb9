#pragma once
// `moedil eval RUN_DIR`: the weights a run saved (its checkpoint.pt) evaluated again on every
// domain's test split, rebuilt from the run's own config and seeds.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/io/run_record.h"
#include "moedil/train/eval_dump.h"

namespace moedil::train {

struct RunEvaluation {
  std::string run_id;
  int64_t epochs_trained = 0;  ///< finished epochs the checkpoint holds
  /// The run's own accuracies after the same epoch (from run.json), one per domain; empty when
  /// run.json has no epochs.
  std::vector<double> recorded_acc;
  std::vector<io::EvalRecord> eval;  ///< one per domain, in domain order
  std::filesystem::path written;     ///< run_dir/eval.json (eval_fixed_<...>.json when fixed)
};

/// Rebuilds the run's data and model from run_dir/run.json, loads run_dir/checkpoint.pt and
/// evaluates every domain; writes the result to run_dir/eval.json. `overrides` may set device
/// and num_threads only. `fixed_experts` ("LAYER:E", e.g. "blocks.1.moe:2") route every row of
/// LAYER to expert E alone; the result then goes to eval_fixed_<layer>_<E>[+...].json.
/// With `dump`, each domain's logits, labels, predictions, dataset rows, routing (and inputs)
/// also go to dump->dir as .npy files (see eval_dump.h), with an index.json.
/// Throws DataError when the run has no run.json or no checkpoint, UsageError for a malformed
/// LAYER:E, an unknown layer or expert.
RunEvaluation evaluate_run(const std::filesystem::path& run_dir,
                           const std::vector<std::string>& overrides,
                           const std::vector<std::string>& fixed_experts = {},
                           const EvalDump* dump = nullptr);

}  // namespace moedil::train
