#pragma once
// The trainer plugins that only watch: run.json writer, TensorBoard scalars, per-epoch log
// line, live progress line.
#include <filesystem>

#include "moedil/io/run_store.h"
#include "moedil/io/tensorboard.h"
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

/// The last epoch of `record` as TensorBoard scalars: train/{loss, aux_loss, acc, lr,
/// samples_per_s, seconds}, eval/{mean_acc (every domain), mean_acc_seen (the domains trained
/// so far, this one included), seconds}, eval/acc/<domain> and eval/loss/<domain>, and per MoE
/// layer moe/<layer>/{routing_entropy, dropped_fraction, dead_experts} where recorded.
io::Scalars epoch_scalars(const io::RunRecord& record);

/// After every epoch: epoch_scalars at step = the epoch's number in the run (from 1), appended
/// to an event file in `dir` (config `loggers` with "tensorboard": <run dir>/tensorboard).
class TensorBoardLogger : public TrainerPlugin {
 public:
  explicit TensorBoardLogger(const std::filesystem::path& dir) : writer_(dir) {}
  std::string name() const override { return "tensorboard_logger"; }
  void on_epoch_end(TrainingState& state) override;
  const io::TensorBoardWriter& writer() const { return writer_; }

 private:
  io::TensorBoardWriter writer_;
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
