#pragma once
// Dark Experience Replay (Buzzega et al. 2020), strategies "der" and "derpp". A memory of
// training samples (ReplayMemory with replay.capacity and replay.policy, seeds.replay) keeps,
// with every sample, the logits the model gave it in the step that put it there. Every step
// (once the memory holds samples) draws n = round(replay.ratio * batch_size) of them and adds
//   der:   alpha * MSE(model(x'), z')                   (mean over rows and classes)
//   derpp: alpha * MSE(model(x'), z') + beta * CE(model(x''), y'')  (a second, independent draw)
// After the step, the step's new samples are offered to the memory with their logits (of the
// forward before the step). The memory never copies images: it holds indices, and the logits in
// one [capacity, classes] tensor on the device.
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"
#include "moedil/train/replay.h"

namespace moedil::train {

class DerPlugin : public TrainerPlugin {
 public:
  /// `plus`: DER++. Throws ConfigError for policy "fifo" (its slots move: logits would detach
  /// from their samples).
  DerPlugin(const config::RunConfig& config, int64_t num_classes, at::Device device, bool plus);
  std::string name() const override { return plus_ ? "derpp" : "der"; }
  std::string describe() const override;
  at::Tensor loss_term(TrainingState& state, const TrainBatch& batch,
                       const at::Tensor& logits) override;
  void after_step(TrainingState& state, const TrainBatch& batch, const at::Tensor&) override;
  nlohmann::json save_state(PluginTensors& tensors) const override;
  void load_state(const nlohmann::json& state, const PluginTensors& tensors) override;
  const ReplayMemory& memory() const { return memory_; }
  /// Stored logits, one row per memory slot ([capacity, classes]).
  const at::Tensor& stored_logits() const { return logits_; }

 private:
  ReplayMemory memory_;
  at::Tensor logits_;   ///< [capacity, classes], float, on the device
  at::Tensor pending_;  ///< this step's logits of its new samples (until after_step)
  int64_t per_step_;
  double alpha_;
  double beta_;
  bool plus_;
  uint64_t seed_;
};

}  // namespace moedil::train
