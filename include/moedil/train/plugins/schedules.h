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

/// Whether the run pretrains: pretrain.enabled with samples to draw (the predecessor ran its
/// pretraining only with pretrain.num_samples > 0).
bool pretrains(const config::RunConfig& config);

/// Pretraining epochs of the run (0 without pretraining): counted before the domains' epochs.
int64_t pretrain_epochs(const config::RunConfig& config);

/// The factor of optimizer.lr in pretraining epoch `epoch` (from 0): 1 without
/// pretrain_scheduler; "linear" is torch's LinearLR stepped per epoch, start_factor + (end_factor
/// - start_factor) * min(epoch, total_iters) / total_iters (total_iters 0: epochs_per_domain).
double pretrain_lr_factor(const config::RunConfig& config, int64_t epoch);

/// The global epoch of epoch `epoch` of domain `domain` (all from 0): pretraining epochs first,
/// then every domain's, never reset: pretrain_epochs + domain * epochs_per_domain + epoch. The
/// predecessor's schedules (router freezing, the cosine balance anneal) count in it.
int64_t global_epoch(const config::RunConfig& config, int64_t domain, int64_t epoch);

/// Weight of the model's auxiliary balance loss: 0 without router_balancing; else the max
/// (router_balance_max, or router_balance_strength when it is not given) annealed to
/// router_balance_min over router_balance_anneal_epochs (none when 0) by
/// router_balance_schedule: "cosine" reads `global_epoch` (pretraining epochs first),
/// "linear_per_domain" reads `domain_epoch` (the epoch within the domain).
double balance_weight(const config::RunConfig& config, int64_t global_epoch,
                      int64_t domain_epoch);

/// Sets state.balance_weight (and the epoch's record of it) from balance_weight().
class BalanceAnnealingPlugin : public TrainerPlugin {
 public:
  std::string name() const override { return "balance_annealing"; }
  void on_epoch_start(TrainingState& state) override;
};

/// Frozen routers get no gradient (no optimizer touches them). Two ways to freeze them:
///  - router_freeze_after_epochs = N >= 0 (the predecessor's): they train in global epochs
///    0..N, counting the P pretraining epochs first (global epoch of domain d, epoch e:
///    P + d * epochs_per_domain + e), and are frozen from global epoch N + 1 on, for good;
///  - router_freeze_per_domain_after_epochs = K > 0: frozen from epoch K of every domain on,
///    trainable again when the next domain starts.
class RouterFreezingPlugin : public TrainerPlugin {
 public:
  /// From the config (validation lets at most one of the two be set).
  explicit RouterFreezingPlugin(const config::RunConfig& config);
  std::string name() const override { return "router_freezing"; }
  std::string describe() const override;
  void on_epoch_start(TrainingState& state) override;
  void on_run_end(TrainingState& state) override;
  /// Whether the routers are frozen in epoch `epoch` of domain `domain`.
  bool frozen(int64_t domain, int64_t epoch) const;

 private:
  const config::RunConfig& config_;  ///< outlives the plugin (the trainer's)
};

/// Freezes (or unfreezes) every router parameter of `model` (the MoE layers' routers), and
/// vit_prototype_heads' prototypes (their EMA stops).
void set_routers_frozen(model::ClassifierImpl& model, bool frozen);

}  // namespace moedil::train
