#include "moedil/train/scheduler.h"

#include <cmath>

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"

namespace moedil::train {

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names{"none", "step", "cosine", "linear"};
  return names;
}

LrSchedule::LrSchedule(const config::SchedulerConfig& s, double base_lr, int64_t epochs_per_domain,
                       int64_t num_domains)
    : config_(s),
      base_lr_(base_lr),
      epochs_per_domain_(epochs_per_domain),
      num_domains_(num_domains) {
  if (s.name == "none") {
    kind_ = Kind::kNone;
  } else if (s.name == "step") {
    kind_ = Kind::kStep;
  } else if (s.name == "cosine") {
    kind_ = Kind::kCosine;
  } else if (s.name == "linear") {
    kind_ = Kind::kLinear;
  } else {
    throw ConfigError("scheduler.name: " +
                      unknown_name_message("scheduler", s.name, scheduler_names()));
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
  if (kind_ == Kind::kStep && s.step_size < 1) {
    throw ConfigError("scheduler.step_size: is " + std::to_string(s.step_size) + "; must be >= 1");
  }
  length_ = s.per_domain ? epochs_per_domain : epochs_per_domain * num_domains;
  const std::string span =
      std::to_string(length_) + "-epoch schedule (" +
      (s.per_domain ? "epochs_per_domain" : "epochs_per_domain x num_partitions") + ")";
  if (kind_ != Kind::kNone && s.warmup_epochs >= length_) {
    throw ConfigError("scheduler.warmup_epochs: " + std::to_string(s.warmup_epochs) +
                      " warm-up epochs leave nothing of the " + span + " for the '" + s.name +
                      "' schedule; use fewer warm-up epochs");
  }
  if (kind_ == Kind::kNone && s.warmup_epochs > length_) {
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
  const int64_t u = t - warmup;
  const int64_t m = length_ - warmup;  // >= 1 here: the constructor rejects warmup >= length
  const double min_lr = config_.min_lr;
  switch (kind_) {
    case Kind::kNone:
      return base_lr_;
    case Kind::kStep:
      return base_lr_ * std::pow(config_.gamma, static_cast<double>(u / config_.step_size));
    case Kind::kCosine: {
      const double pi = std::acos(-1.0);
      const double fraction = static_cast<double>(u) / static_cast<double>(m);
      return min_lr + (base_lr_ - min_lr) * (1.0 + std::cos(pi * fraction)) / 2.0;
    }
    case Kind::kLinear:
      return base_lr_ + (min_lr - base_lr_) * static_cast<double>(u) / static_cast<double>(m);
  }
  return base_lr_;  // unreachable: every Kind is handled above
}

int64_t LrSchedule::length() const { return length_; }

}  // namespace moedil::train
