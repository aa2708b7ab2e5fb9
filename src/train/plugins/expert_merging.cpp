#include "moedil/train/plugins/expert_merging.h"

#include <fmt/format.h>

#include "moedil/common/error.h"
#include "moedil/data/dataset.h"
#include "moedil/model/moe/merging.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

void check_mergeable(const model::ClassifierImpl& model, const std::string& model_name) {
  if (model.moe_layers().empty()) {
    throw ConfigError("expert_merging.enabled: model '" + model_name +
                      "' has no MoE layers whose experts could be merged");
  }
  for (const auto& layer : model.moe_layers()) {
    const auto n = static_cast<int64_t>(layer.experts->size());
    if (n < 3) {
      throw ConfigError("expert_merging.enabled: MoE layer " + layer.name + " has " +
                        std::to_string(n) + " experts; merging needs at least 3 (" +
                        (model_name == "hetero_moe" ? "model.hetero_experts"
                                                    : "model.moe_num_unshared_experts") +
                        ")");
    }
    if (!model::moe::experts_mergeable(layer.experts)) {
      throw ConfigError("expert_merging.enabled: the experts of MoE layer " + layer.name +
                        " differ in architecture and cannot be averaged");
    }
  }
}

ExpertMergingPlugin::ExpertMergingPlugin(const model::ClassifierImpl& model,
                                         const std::string& model_name, int64_t every_steps,
                                         at::Device device)
    : model_(model), every_steps_(every_steps), device_(device) {
  check_mergeable(model, model_name);
}

void ExpertMergingPlugin::on_domain_start(TrainingState& state) {
  // Selections are counted per domain (a resumed domain's tally came back with the checkpoint).
  if (state.pos.epoch != 0) return;
  for (const auto& layer : model_.moe_layers()) layer.mixture->reset_selection_counts();
}

void ExpertMergingPlugin::after_step(TrainingState& state, const TrainBatch&, const at::Tensor&) {
  const Position& p = state.pos;
  const int64_t step = p.domain_step();
  if (step % every_steps_ != 0) return;
  for (const auto& layer : model_.moe_layers()) {
    const std::vector<int64_t> counts = host_vector(layer.mixture->selection_counts());
    const model::moe::MergeChoice choice = model::moe::choose_merge(counts);
    torch::nn::ModuleList experts = layer.experts;
    const std::vector<at::Tensor> replaced = model::moe::merge_experts(experts, choice);
    reset_optimizer_state(state.optimizer, replaced);
    state.record.merges.push_back({p.domain, p.epoch, step, layer.name, choice.target,
                                   {choice.first, choice.second}, counts});
  }
}

nlohmann::json ExpertMergingPlugin::save_state(PluginTensors&) const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& layer : model_.moe_layers()) {
    out[layer.name] = host_vector(layer.mixture->selection_counts());
  }
  return out;
}

void ExpertMergingPlugin::load_state(const nlohmann::json& state, const PluginTensors&) {
  for (const auto& layer : model_.moe_layers()) {
    if (!state.contains(layer.name)) continue;
    const auto counts = state.at(layer.name).get<std::vector<int64_t>>();
    layer.mixture->set_selection_counts(data::index_tensor(counts).to(device_));
  }
}

std::string ExpertMergingPlugin::describe() const {
  return fmt::format("expert merging every {} steps", every_steps_);
}

}  // namespace moedil::train
