#include "moedil/train/plugins/schedules.h"

#include <algorithm>

#include <fmt/format.h>

#include "moedil/common/anneal.h"
#include "moedil/model/vit_prototype_heads.h"
#include "moedil/train/optimizer.h"

namespace moedil::train {

void LrSchedulePlugin::on_epoch_start(TrainingState& state) {
  const double lr = schedule_.lr(state.pos.domain, state.pos.epoch);
  if (state.epoch) state.epoch->lr = lr;
  set_lr(state.optimizer, lr, multipliers_);
}

bool pretrains(const config::RunConfig& config) {
  return config.pretrain.enabled && config.pretrain.num_samples > 0;
}

int64_t pretrain_epochs(const config::RunConfig& config) {
  return pretrains(config) ? config.pretrain.epochs : 0;
}

double pretrain_lr_factor(const config::RunConfig& config, int64_t epoch) {
  const config::PretrainConfig& p = config.pretrain;
  if (p.scheduler != "linear") return 1.0;
  const int64_t total = p.total_iters > 0 ? p.total_iters : config.epochs_per_domain;
  const double done = static_cast<double>(std::min(epoch, total)) / static_cast<double>(total);
  return p.start_factor + (p.end_factor - p.start_factor) * done;
}

int64_t global_epoch(const config::RunConfig& config, int64_t domain, int64_t epoch) {
  return pretrain_epochs(config) + domain * config.epochs_per_domain + epoch;
}

double balance_weight(const config::RunConfig& config, int64_t global_epoch,
                      int64_t domain_epoch) {
  if (!config.router_balancing) return 0.0;
  const double max =
      config.router_balance_max >= 0.0 ? config.router_balance_max : config.router_balance_strength;
  const int64_t anneal = config.router_balance_anneal_epochs;
  if (anneal <= 0) return max;
  if (config.router_balance_schedule == "linear_per_domain") {
    return LinearAnneal{max, config.router_balance_min, anneal}.at(domain_epoch);
  }
  return CosineAnneal{max, config.router_balance_min, anneal}.at(global_epoch);
}

void BalanceAnnealingPlugin::on_epoch_start(TrainingState& state) {
  const Position& p = state.pos;
  state.balance_weight =
      balance_weight(state.config, global_epoch(state.config, p.domain, p.epoch), p.epoch);
  if (state.epoch) state.epoch->balance_weight = state.balance_weight;
}

void set_routers_frozen(model::ClassifierImpl& model, bool frozen) {
  // Routing by prototypes has no parameters: freezing it stops their EMA.
  if (auto* heads = dynamic_cast<model::ViTPrototypeHeadsImpl*>(&model)) {
    heads->routing_frozen = frozen;
  }
  for (const model::MoeLayerRef& layer : model.moe_layers()) {
    if (!layer.router) continue;
    for (at::Tensor& p : layer.router->parameters()) {
      p.set_requires_grad(!frozen);
      // An undefined gradient makes every optimizer skip the parameter (no momentum drift).
      if (frozen) p.mutable_grad() = at::Tensor();
    }
  }
}

RouterFreezingPlugin::RouterFreezingPlugin(const config::RunConfig& config)
    : config_(config) {}

bool RouterFreezingPlugin::frozen(int64_t domain, int64_t epoch) const {
  const int64_t global_after = config_.router_freeze_after_epochs;
  const int64_t per_domain_after = config_.router_freeze_per_domain_after_epochs;
  return (global_after >= 0 && global_epoch(config_, domain, epoch) > global_after) ||
         (per_domain_after > 0 && epoch >= per_domain_after);
}

void RouterFreezingPlugin::on_epoch_start(TrainingState& state) {
  const bool is_frozen = frozen(state.pos.domain, state.pos.epoch);
  if (state.epoch) state.epoch->routers_frozen = is_frozen;
  set_routers_frozen(state.model, is_frozen);
}

void RouterFreezingPlugin::on_run_end(TrainingState& state) {
  set_routers_frozen(state.model, false);
}

std::string RouterFreezingPlugin::describe() const {
  if (config_.router_freeze_after_epochs >= 0) {
    return fmt::format("routers train in global epochs 0..{} (the {} pretraining epochs "
                       "counted first) and are frozen from then on, for the rest of the run",
                       config_.router_freeze_after_epochs, pretrain_epochs(config_));
  }
  return fmt::format("routers frozen after the first {} epochs of every domain",
                     config_.router_freeze_per_domain_after_epochs);
}

}  // namespace moedil::train
