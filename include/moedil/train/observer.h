#pragma once
// Hooks on the training loop (results writer, logger, progress line hang here instead of being
// written into the loop).
#include <cstdint>
#include <functional>

#include "moedil/io/run_record.h"

namespace moedil::train {

/// Where the trainer is within an epoch.
struct StepInfo {
  int64_t domain = 0;
  int64_t num_domains = 0;
  int64_t epoch = 0;
  int64_t num_epochs = 0;
  int64_t step = 0;  ///< from 0
  int64_t num_steps = 0;
  /// Task loss of this step, read from the device only when called (a synchronisation on a
  /// GPU), so observers that do not show it cost nothing.
  std::function<double()> loss;
  double seconds = 0.0;  ///< since the epoch started
};

class TrainerObserver {
 public:
  virtual ~TrainerObserver() = default;
  /// After every optimisation step.
  virtual void on_step(const StepInfo&) {}
  /// After every epoch's evaluation; record.epochs.back() is the epoch just finished.
  virtual void on_epoch_end(const io::RunRecord&) {}
};

}  // namespace moedil::train
