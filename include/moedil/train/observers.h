#pragma once
// The trainer plugins that only watch: run.json writer, per-epoch log line, live progress line.
#include <filesystem>

#include "moedil/train/plugin.h"

namespace moedil::train {

/// Rewrites run.json atomically after every epoch.
class ResultsWriter : public TrainerPlugin {
 public:
  explicit ResultsWriter(std::filesystem::path path) : path_(std::move(path)) {}
  std::string name() const override { return "results_writer"; }
  void on_epoch_end(TrainingState& state) override { write(state.record); }
  void write(const io::RunRecord& record) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
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
