#pragma once
// The trainer plugins that only watch: run.json writer, per-epoch log line, live progress line.
#include <filesystem>

#include "moedil/io/run_store.h"
#include "moedil/train/plugin.h"

namespace moedil::train {

/// After every epoch: appends the epoch to the run directory's epochs.jsonl, confusion.jsonl
/// and metrics.csv (dropping its matrices from the record in memory: they are on disk), then
/// rewrites run.json and progress.json (io/run_store.h). Added before the checkpointer, so a
/// checkpoint never counts an epoch the files lack.
class ResultsWriter : public TrainerPlugin {
 public:
  explicit ResultsWriter(std::filesystem::path run_dir) : store_(std::move(run_dir)) {}
  std::string name() const override { return "results_writer"; }
  void on_epoch_end(TrainingState& state) override;
  /// Rewrites run.json and progress.json.
  void write(const io::RunRecord& record) const { store_.write_summary(record); }
  const io::RunStore& store() const { return store_; }

 private:
  io::RunStore store_;
};

/// One log line per epoch: domain, epoch, loss, train acc, mean eval acc, seconds, samples/s.
class EpochLogger : public TrainerPlugin {
 public:
  std::string name() const override { return "epoch_logger"; }
  void on_epoch_end(TrainingState& state) override;
};

/// A live progress line on stderr while an epoch runs (only when stderr is a terminal).
class ProgressLine : public TrainerPlugin {
 public:
  ProgressLine();
  std::string name() const override { return "progress_line"; }
  void after_step(TrainingState& state, const TrainBatch&, const at::Tensor& loss) override;
  void on_epoch_end(TrainingState&) override;
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  double last_print_ = -1.0;
};

}  // namespace moedil::train
