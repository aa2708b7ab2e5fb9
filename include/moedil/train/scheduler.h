#pragma once
// Learning-rate schedules of a DIL run (config `scheduler`). Torch-free: the schedule is a closed
// form of the epoch's position, evaluated once per epoch; the trainer writes the value into the
// optimizer's parameter groups (times each group's multiplier).
#include <cstdint>
#include <functional>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"

namespace moedil::train {

/// The schedule proper, after the warm-up: the lr of step u of m (0 <= u < m, m >= 1) for a
/// base lr.
using LrCurve = std::function<double(double base_lr, int64_t u, int64_t m)>;

/// Builds a schedule's curve from its options (throws ConfigError for options it cannot use).
/// An empty curve is a constant lr (the base): its warm-up may fill the whole schedule.
using SchedulerBuilder = std::function<LrCurve(const config::SchedulerConfig&)>;

/// The schedules (`scheduler.name`), in order none, step, cosine, cosine_annealing, linear,
/// linear_lr;
/// `moedil list` and
/// config validation take their names from here. To add one, add it in scheduler.cpp.
const Registry<SchedulerBuilder>& scheduler_registry();

/// Learning rate of every epoch of a DIL run, computed once per epoch from a closed form.
///
/// With t the epoch's position in the schedule (the epoch within the domain when
/// `per_domain`, else domain * epochs_per_domain + epoch), W = warmup_epochs, N = length() and
/// base = base_lr:
///   - warm-up, every name including "none": t < W -> base * (t + 1) / (W + 1), a linear ramp
///     that stays below base for all W warm-up epochs (W = 1: base / 2; W = 3: base / 4,
///     base / 2, 3 base / 4) and reaches base with the first epoch after it;
///   - after it, with u = t - W and M = N - W:
///       none:   base
///       step:   base * gamma^floor(u / step_size)
///       cosine: min_lr + (base - min_lr) * (1 + cos(pi * u / M)) / 2
///       linear: base + (min_lr - base) * u / M
///       cosine_annealing: min_lr + (base - min_lr) * (1 + cos(pi * u / T_max)) / 2, torch's
///               CosineAnnealingLR: periodic past T_max (T_max 0 = epochs_per_domain)
///       linear_lr: base * (start_factor + (end_factor - start_factor) * min(u, I) / I),
///               torch's LinearLR with I = total_iters (0 = epochs_per_domain)
/// The lr of an epoch is the schedule's value at the epoch's start, so cosine and linear start
/// at base and approach min_lr without reaching it: the last epoch has u = M - 1 and stays one
/// step above min_lr (min_lr itself would be the lr of epoch N, which is never trained). The
/// decay spans the M epochs after the warm-up, so it changes the lr whenever M >= 2; M = 1
/// trains its one epoch at base.
class LrSchedule {
 public:
  /// Schedule length N = epochs_per_domain when s.per_domain (it restarts with each domain),
  /// else epochs_per_domain * num_domains (one schedule over the whole stream).
  /// Throws ConfigError for an unknown s.name, epochs_per_domain < 1, num_domains < 1,
  /// s.warmup_epochs < 0, s.step_size < 1 for "step", s.warmup_epochs >= N when the schedule
  /// changes the lr (every one but "none": no epoch would follow the warm-up), or
  /// s.warmup_epochs > N for "none".
  LrSchedule(const config::SchedulerConfig& s, double base_lr, int64_t epochs_per_domain,
             int64_t num_domains);

  /// lr of epoch `epoch` (0-based, within the domain) of domain `domain` (0-based).
  /// Throws ConfigError when domain is outside [0, num_domains) or epoch outside
  /// [0, epochs_per_domain).
  double lr(int64_t domain, int64_t epoch) const;

  /// Number of epochs of one schedule (N above).
  int64_t length() const;

 private:
  LrCurve curve_;  ///< empty: constant (none)
  config::SchedulerConfig config_;
  double base_lr_;
  int64_t epochs_per_domain_;
  int64_t num_domains_;
  int64_t length_;
};

}  // namespace moedil::train
