#pragma once
// Experience replay as a trainer plugin (config `replay`): after every step the memory sees the
// step's new samples. Once it holds any, replay.mode "separate" (the predecessor's) draws
// min(B, memory size) distinct memory samples per step (B the step's new samples) and adds the
// training loss of their own forward pass to the batch's; "mixed" appends round(ratio *
// batch_size) samples drawn with replacement to the batch. Memory samples are augmented like new
// ones. The memory's summary goes into record.replay at the end of every domain.
#include <cstdint>

#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"
#include "moedil/train/replay.h"

namespace moedil::train {

class ReplayMixingPlugin : public TrainerPlugin {
 public:
  /// Memory policy, capacity and draws from `config.replay` and `seeds.replay`.
  explicit ReplayMixingPlugin(const config::RunConfig& config);
  /// The checkpoint key is "replay" (as before plugins), so older checkpoints resume.
  std::string name() const override { return "replay"; }
  std::string describe() const override;
  void on_batch(TrainingState& state, TrainBatch& batch) override;
  at::Tensor loss_term(TrainingState& state, const TrainBatch& batch,
                       const at::Tensor& logits) override;
  void after_step(TrainingState& state, const TrainBatch& batch, const at::Tensor&) override;
  void on_domain_end(TrainingState& state) override;
  nlohmann::json save_state(PluginTensors&) const override { return memory_.save_state(); }
  void load_state(const nlohmann::json& state, const PluginTensors&) override {
    memory_.restore_state(state);
  }
  const ReplayMemory& memory() const { return memory_; }

 private:
  ReplayMemory memory_;
  bool separate_;      ///< replay.mode "separate"
  int64_t per_batch_;  ///< samples replayed into every batch (mode mixed)
  uint64_t seed_;      ///< seeds.replay
};

}  // namespace moedil::train
