#pragma once
// Averaged GEM (Chaudhry et al. 2019), strategy "agem". An episodic memory (ReplayMemory with
// replay.capacity and replay.policy, seeds.replay) is offered every training sample of a domain
// once that domain ends, so it holds earlier domains only. In every later step, after the
// backward pass, the gradient g_ref of the mean cross-entropy on a memory batch of
// n = round(replay.ratio * batch_size) samples is computed, and when g . g_ref < 0 the step's
// gradient becomes
//   g := g - (g . g_ref / g_ref . g_ref) g_ref,
// over all parameters as one vector (a parameter without a gradient counts as zeros).
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"
#include "moedil/train/replay.h"

namespace moedil::train {

class AgemPlugin : public TrainerPlugin {
 public:
  explicit AgemPlugin(const config::RunConfig& config);
  std::string name() const override { return "agem"; }
  std::string describe() const override;
  void before_step(TrainingState& state, const TrainBatch&) override;
  void on_domain_end(TrainingState& state) override;
  nlohmann::json save_state(PluginTensors&) const override;
  void load_state(const nlohmann::json& state, const PluginTensors&) override;
  const ReplayMemory& memory() const { return memory_; }
  /// Steps whose gradient was projected (for the log and tests).
  int64_t projections() const { return projections_; }

 private:
  ReplayMemory memory_;
  int64_t per_step_;
  uint64_t seed_;
  int64_t projections_ = 0;
};

/// The A-GEM projection of `grads` against `reference` (both one tensor per parameter; an
/// undefined tensor counts as zeros): unchanged when their dot product is >= 0, else
/// g - (g . r / r . r) r. Returns whether it projected.
bool agem_project(std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& reference);

}  // namespace moedil::train
