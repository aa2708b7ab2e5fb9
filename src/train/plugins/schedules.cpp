#include "moedil/train/plugins/schedules.h"

#include <fmt/format.h>

#include "moedil/common/anneal.h"
#include "moedil/train/optimizer.h"

namespace moedil::train {

void LrSchedulePlugin::on_epoch_start(TrainingState& state) {
  const double lr = schedule_.lr(state.pos.domain, state.pos.epoch);
  if (state.epoch) state.epoch->lr = lr;
  set_lr(state.optimizer, lr, multipliers_);
}

double balance_weight(const config::RunConfig& config, int64_t epoch) {
  if (!config.router_balancing) return 0.0;
  const int64_t anneal = config.router_balance_anneal_epochs;
  if (anneal <= 0) return config.router_balance_strength;
  return LinearAnneal{config.router_balance_max, config.router_balance_min, anneal}.at(epoch);
}

void BalanceAnnealingPlugin::on_epoch_start(TrainingState& state) {
  state.balance_weight = balance_weight(state.config, state.pos.epoch);
  if (state.epoch) state.epoch->balance_weight = state.balance_weight;
}

void set_routers_frozen(model::ClassifierImpl& model, bool frozen) {
  for (const model::MoeLayerRef& layer : model.moe_layers()) {
    if (!layer.router) continue;
    for (at::Tensor& p : layer.router->parameters()) {
      p.set_requires_grad(!frozen);
      // An undefined gradient makes every optimizer skip the parameter (no momentum drift).
      if (frozen) p.mutable_grad() = at::Tensor();
    }
  }
}

void RouterFreezingPlugin::on_epoch_start(TrainingState& state) {
  const bool frozen = after_epochs_ > 0 && state.pos.epoch >= after_epochs_;
  if (state.epoch) state.epoch->routers_frozen = frozen;
  set_routers_frozen(state.model, frozen);
}

void RouterFreezingPlugin::on_run_end(TrainingState& state) {
  set_routers_frozen(state.model, false);
}

std::string RouterFreezingPlugin::describe() const {
  return fmt::format("routers frozen after the first {} epochs of every domain", after_epochs_);
}

}  // namespace moedil::train
