#pragma once
// Checkpoints as a trainer plugin: after every epoch (once the epoch and, at a domain's end, the
// domain's end hooks are done) the model, the optimizer, the record so far, the position of the
// next epoch and every plugin's state go into one sealed file (train/checkpoint.h), rewritten
// atomically. Trainer::resume reads it back.
#include <filesystem>

#include "moedil/train/plugin.h"

namespace moedil::train {

class CheckpointerPlugin : public TrainerPlugin {
 public:
  explicit CheckpointerPlugin(std::filesystem::path path) : path_(std::move(path)) {}
  std::string name() const override { return "checkpointer"; }
  void on_epoch_end(TrainingState& state) override;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace moedil::train
