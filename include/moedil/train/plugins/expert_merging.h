#pragma once
// Expert merging as a trainer plugin (config `expert_merging`): every `every_steps` steps of a
// domain, in every MoE layer the least selected expert := mean of the two most selected (counted
// since the domain started), with its optimizer state reset; each merge goes into record.merges.
// The selection counts are this plugin's checkpoint state.
#include <cstdint>
#include <string>

#include "moedil/train/plugin.h"

namespace moedil::train {

class ExpertMergingPlugin : public TrainerPlugin {
 public:
  /// Throws ConfigError (check_mergeable) unless every MoE layer of `model` can be merged.
  ExpertMergingPlugin(const model::ClassifierImpl& model, const std::string& model_name,
                      int64_t every_steps, at::Device device);
  /// The checkpoint key is "selection_counts" (as before plugins), so older checkpoints resume.
  std::string name() const override { return "selection_counts"; }
  std::string describe() const override;
  void on_domain_start(TrainingState& state) override;
  void after_step(TrainingState& state, const TrainBatch&, const at::Tensor&) override;
  nlohmann::json save_state(PluginTensors&) const override;
  void load_state(const nlohmann::json& state, const PluginTensors&) override;

 private:
  const model::ClassifierImpl& model_;
  int64_t every_steps_;
  at::Device device_;  ///< where the counts live
};

/// Throws ConfigError unless every MoE layer of `model` has at least 3 experts of one
/// architecture (what expert_merging needs); also when the model has no MoE layer.
void check_mergeable(const model::ClassifierImpl& model, const std::string& model_name);

}  // namespace moedil::train
