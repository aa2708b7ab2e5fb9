#pragma once
// The DIL training loop: domains in order, epochs_per_domain epochs each, evaluation of every
// domain after every epoch. Results go into a RunRecord; observers see every step and epoch.
#include <atomic>
#include <memory>
#include <vector>

#include <torch/optim/optimizer.h>

#include "moedil/config/run_config.h"
#include "moedil/data/batching.h"
#include "moedil/io/run_record.h"
#include "moedil/model/classifier.h"
#include "moedil/partition/domain.h"
#include "moedil/train/observer.h"

namespace moedil::train {

/// Set (e.g. from a signal handler) to stop the run at the next step with InterruptedError.
std::atomic<bool>& stop_requested();

class Trainer {
 public:
  /// `normalisation` mean/stddev are per channel on the [0, 1] scale; `record` is filled in.
  Trainer(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
          model::Classifier model, torch::optim::Optimizer& optimizer, at::Device device,
          int64_t num_classes, const std::vector<double>& mean, const std::vector<double>& stddev,
          io::RunRecord& record);

  void add_observer(TrainerObserver* observer) { observers_.push_back(observer); }

  /// Accuracy on every domain before any training (record.init_acc).
  void evaluate_initial();
  /// Trains every domain; fills record.epochs, r_history, r_matrix and, at the end, metrics.
  /// Throws TrainingError on a non-finite loss (naming domain, epoch and step) and
  /// InterruptedError when stop_requested() is set.
  void run();

 private:
  void train_epoch(int64_t domain, int64_t epoch, io::EpochRecord& out);
  void evaluate_all(io::EpochRecord& out);

  const config::RunConfig& config_;
  const std::vector<partition::Domain>& domains_;
  model::Classifier model_;
  torch::optim::Optimizer& optimizer_;
  at::Device device_;
  int64_t num_classes_;
  io::RunRecord& record_;
  std::vector<data::Batches> train_batches_;
  std::vector<data::Batches> test_batches_;
  std::vector<TrainerObserver*> observers_;
};

/// Layer name -> counts, from a model's usage list.
io::UsageByLayer usage_by_layer(const std::vector<model::ExpertUsage>& usage);

}  // namespace moedil::train
