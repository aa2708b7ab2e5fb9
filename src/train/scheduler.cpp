#include "moedil/train/scheduler.h"

#include <algorithm>
#include <cmath>

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"

namespace moedil::train {

const Registry<SchedulerBuilder>& scheduler_registry() {
  static const Registry<SchedulerBuilder> registry = [] {
    Registry<SchedulerBuilder> r("scheduler");
    r.add("none", "constant lr (after the warm-up, if any)",
          [](const config::SchedulerConfig&) { return LrCurve(); });
    r.add("step", "lr * gamma every step_size epochs",
          [](const config::SchedulerConfig& s) -> LrCurve {
            if (s.step_size < 1) {
              throw ConfigError("scheduler.step_size: is " + std::to_string(s.step_size) +
                                "; must be >= 1");
            }
            const double gamma = s.gamma;
            const int64_t step_size = s.step_size;
            return [gamma, step_size](double base, int64_t u, int64_t) {
              return base * std::pow(gamma, static_cast<double>(u / step_size));
            };
          });
    r.add("cosine", "half a cosine from lr down toward min_lr",
          [](const config::SchedulerConfig& s) -> LrCurve {
            const double min_lr = s.min_lr;
            return [min_lr](double base, int64_t u, int64_t m) {
              const double pi = std::acos(-1.0);
              const double fraction = static_cast<double>(u) / static_cast<double>(m);
              return min_lr + (base - min_lr) * (1.0 + std::cos(pi * fraction)) / 2.0;
            };
          });
    r.add("cosine_annealing",
          "torch's CosineAnnealingLR (the predecessor's cosine): min_lr + (lr - min_lr) (1 + "
          "cos(pi t / T_max)) / 2 at epoch t of the schedule, periodic past T_max (0: "
          "epochs_per_domain); one schedule over the whole run unless per_domain",
          [](const config::SchedulerConfig& s) -> LrCurve {
            const double min_lr = s.min_lr;
            const double period = static_cast<double>(s.T_max);
            return [min_lr, period](double base, int64_t u, int64_t) {
              const double pi = std::acos(-1.0);
              return min_lr +
                     (base - min_lr) * (1.0 + std::cos(pi * static_cast<double>(u) / period)) / 2.0;
            };
          });
    r.add("linear", "a straight line from lr down toward min_lr",
          [](const config::SchedulerConfig& s) -> LrCurve {
            const double min_lr = s.min_lr;
            return [min_lr](double base, int64_t u, int64_t m) {
              return base + (min_lr - base) * static_cast<double>(u) / static_cast<double>(m);
            };
          });
    r.add("linear_lr",
          "torch's LinearLR (the predecessor's linear): lr * (start_factor + (end_factor - "
          "start_factor) min(t, total_iters) / total_iters) at epoch t of the schedule "
          "(total_iters 0: epochs_per_domain); one schedule over the whole run unless per_domain",
          [](const config::SchedulerConfig& s) -> LrCurve {
            const double start = s.start_factor;
            const double end = s.end_factor;
            const auto total = static_cast<double>(s.total_iters);
            return [start, end, total](double base, int64_t u, int64_t) {
              const double reached = std::min(static_cast<double>(u), total) / total;
              return base * (start + (end - start) * reached);
            };
          });
    return r;
  }();
  return registry;
}

LrSchedule::LrSchedule(const config::SchedulerConfig& s, double base_lr, int64_t epochs_per_domain,
                       int64_t num_domains)
    : config_(s),
      base_lr_(base_lr),
      epochs_per_domain_(epochs_per_domain),
      num_domains_(num_domains) {
  const auto* entry = scheduler_registry().find(s.name);
  if (!entry) {
    throw ConfigError("scheduler.name: " + unknown_name_message("scheduler", s.name,
                                                                scheduler_registry().names()));
  }
  if (epochs_per_domain < 1) {
    throw ConfigError("epochs_per_domain: is " + std::to_string(epochs_per_domain) +
                      "; a learning-rate schedule needs at least 1 epoch per domain");
  }
  if (num_domains < 1) {
    throw ConfigError("LrSchedule: num_domains is " + std::to_string(num_domains) +
                      "; a learning-rate schedule needs at least 1 domain");
  }
  if (s.warmup_epochs < 0) {
    throw ConfigError("scheduler.warmup_epochs: is " + std::to_string(s.warmup_epochs) +
                      "; must be >= 0");
  }
  config::SchedulerConfig built = s;
  if (built.T_max <= 0) built.T_max = epochs_per_domain;  // cosine_annealing's default period
  if (built.total_iters <= 0) built.total_iters = epochs_per_domain;  // linear_lr's default
  curve_ = entry->build(built);
  length_ = s.per_domain ? epochs_per_domain : epochs_per_domain * num_domains;
  const std::string span =
      std::to_string(length_) + "-epoch schedule (" +
      (s.per_domain ? "epochs_per_domain" : "epochs_per_domain x num_partitions") + ")";
  if (curve_ && s.warmup_epochs >= length_) {
    throw ConfigError("scheduler.warmup_epochs: " + std::to_string(s.warmup_epochs) +
                      " warm-up epochs leave nothing of the " + span + " for the '" + s.name +
                      "' schedule; use fewer warm-up epochs");
  }
  if (!curve_ && s.warmup_epochs > length_) {
    throw ConfigError("scheduler.warmup_epochs: " + std::to_string(s.warmup_epochs) +
                      " warm-up epochs are longer than the " + span);
  }
}

double LrSchedule::lr(int64_t domain, int64_t epoch) const {
  if (domain < 0 || domain >= num_domains_) {
    throw ConfigError("LrSchedule::lr: domain " + std::to_string(domain) + " is out of range [0, " +
                      std::to_string(num_domains_) + ")");
  }
  if (epoch < 0 || epoch >= epochs_per_domain_) {
    throw ConfigError("LrSchedule::lr: epoch " + std::to_string(epoch) + " is out of range [0, " +
                      std::to_string(epochs_per_domain_) + ")");
  }
  const int64_t t = config_.per_domain ? epoch : domain * epochs_per_domain_ + epoch;
  const int64_t warmup = config_.warmup_epochs;
  if (t < warmup) {
    // Ramp in W + 1 equal steps of which the warm-up epochs take the first W: every warm-up
    // epoch is below base (a 1-epoch warm-up trains at base / 2), the first epoch after it at base.
    return base_lr_ * static_cast<double>(t + 1) / static_cast<double>(warmup + 1);
  }
  if (!curve_) return base_lr_;
  // m >= 1 here: the constructor rejects warmup >= length for every schedule with a curve.
  return curve_(base_lr_, t - warmup, length_ - warmup);
}

int64_t LrSchedule::length() const { return length_; }

}  // namespace moedil::train
