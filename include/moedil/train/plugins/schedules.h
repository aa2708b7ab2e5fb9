#pragma once
// The per-epoch schedules as trainer plugins: the learning rate (config `scheduler`), the
// balance-loss weight (router_balancing, router_balance_*) and router freezing
// (router_freeze_after_epochs). Each sets its value at epoch start and records it in the epoch.
#include <cstdint>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"
#include "moedil/train/scheduler.h"

namespace moedil::train {

/// Sets every parameter group's lr to schedule.lr(domain, epoch) times the group's multiplier.
class LrSchedulePlugin : public TrainerPlugin {
 public:
  LrSchedulePlugin(LrSchedule schedule, std::vector<double> multipliers)
      : schedule_(std::move(schedule)), multipliers_(std::move(multipliers)) {}
  std::string name() const override { return "lr_schedule"; }
  void on_epoch_start(TrainingState& state) override;

 private:
  LrSchedule schedule_;
  std::vector<double> multipliers_;
};

/// Weight of the model's auxiliary balance loss in epoch `epoch` of a domain: 0 without
/// router_balancing; router_balance_strength without annealing; else the linear anneal
/// router_balance_max -> router_balance_min over router_balance_anneal_epochs.
double balance_weight(const config::RunConfig& config, int64_t epoch);

/// Sets state.balance_weight (and the epoch's record of it) from balance_weight().
class BalanceAnnealingPlugin : public TrainerPlugin {
 public:
  std::string name() const override { return "balance_annealing"; }
  void on_epoch_start(TrainingState& state) override;
};

/// From epoch router_freeze_after_epochs of every domain on, the routers' parameters get no
/// gradient (no optimizer touches them); each domain starts with them trainable again.
class RouterFreezingPlugin : public TrainerPlugin {
 public:
  explicit RouterFreezingPlugin(int64_t after_epochs) : after_epochs_(after_epochs) {}
  std::string name() const override { return "router_freezing"; }
  std::string describe() const override;
  void on_epoch_start(TrainingState& state) override;
  void on_run_end(TrainingState& state) override;

 private:
  int64_t after_epochs_;  ///< 0: never frozen
};

/// Freezes (or unfreezes) every router parameter of `model` (the MoE layers' routers).
void set_routers_frozen(model::ClassifierImpl& model, bool frozen);

}  // namespace moedil::train
