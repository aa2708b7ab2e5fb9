#include "moedil/train/plugins/checkpointer.h"

#include "moedil/train/checkpoint.h"

namespace moedil::train {

void CheckpointerPlugin::on_epoch_end(TrainingState& state) {
  const Position& p = state.pos;
  nlohmann::json doc = {{"next_domain", p.last_epoch() ? p.domain + 1 : p.domain},
                        {"next_epoch", p.last_epoch() ? 0 : p.epoch + 1},
                        {"record", io::summary_json(state.record)}};
  CheckpointTensors tensors;
  for (const TrainerPlugin* plugin : state.plugins) {
    PluginTensors named;
    nlohmann::json plugin_state = plugin->save_state(named);
    if (!plugin_state.is_null()) doc[plugin->name()] = std::move(plugin_state);
    if (!named.empty()) tensors[plugin->name()] = std::move(named);
  }
  save_checkpoint(path_, state.model, state.optimizer, doc, tensors);
}

}  // namespace moedil::train
