#pragma once
// The standard trainer observers: run.json writer, per-epoch log line, live progress line.
#include <filesystem>

#include "moedil/train/observer.h"

namespace moedil::train {

/// Rewrites run.json atomically after every epoch.
class ResultsWriter : public TrainerObserver {
 public:
  explicit ResultsWriter(std::filesystem::path path) : path_(std::move(path)) {}
  void on_epoch_end(const io::RunRecord& record) override { write(record); }
  void write(const io::RunRecord& record) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// One log line per epoch: domain, epoch, loss, train acc, mean eval acc, seconds, samples/s.
class EpochLogger : public TrainerObserver {
 public:
  void on_epoch_end(const io::RunRecord& record) override;
};

/// A live progress line on stderr while an epoch runs (only when stderr is a terminal).
class ProgressLine : public TrainerObserver {
 public:
  ProgressLine();
  void on_step(const StepInfo& info) override;
  void on_epoch_end(const io::RunRecord&) override;
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  double last_print_ = -1.0;
};

}  // namespace moedil::train
