#include "moedil/train/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::train {
namespace {

constexpr double kTol = 1e-12;

config::SchedulerConfig make_config(const std::string& name, int64_t warmup_epochs,
                                    bool per_domain = true) {
  config::SchedulerConfig s;
  s.name = name;
  s.warmup_epochs = warmup_epochs;
  s.per_domain = per_domain;
  return s;
}

/// lr of every epoch of domain `domain`, in order.
std::vector<double> domain_lrs(const LrSchedule& schedule, int64_t domain,
                               int64_t epochs_per_domain) {
  std::vector<double> out;
  for (int64_t e = 0; e < epochs_per_domain; ++e) out.push_back(schedule.lr(domain, e));
  return out;
}

void expect_sequence(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], kTol) << "at epoch " << i;
  }
}

/// Message of the ConfigError `f` throws; "" when it throws nothing (which fails the caller's
/// message check), and a test failure when it throws anything else.
std::string config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing was thrown";
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SchedulerRegistry, HoldsTheSixSchedulesInOrderWithDescriptions) {
  EXPECT_EQ(scheduler_registry().names(),
            (std::vector<std::string>{"none", "step", "cosine", "cosine_annealing", "linear",
                                      "linear_lr"}));
  EXPECT_EQ(scheduler_registry().what(), "scheduler");
  for (const auto& entry : scheduler_registry().entries()) {
    EXPECT_FALSE(entry.description.empty()) << entry.name;
  }
  // Only "none" is constant (an empty curve).
  EXPECT_FALSE(static_cast<bool>(scheduler_registry().get("none").build(make_config("none", 0))));
  EXPECT_TRUE(static_cast<bool>(scheduler_registry().get("cosine").build(make_config("cosine", 0))));
}

TEST(LrSchedule, NoneWithoutWarmupReturnsBaseEverywhere) {
  for (bool per_domain : {true, false}) {
    const LrSchedule schedule(make_config("none", 0, per_domain), 0.05, 3, 2);
    for (int64_t d = 0; d < 2; ++d) {
      expect_sequence(domain_lrs(schedule, d, 3), {0.05, 0.05, 0.05});
    }
  }
}

TEST(LrSchedule, NoneWithWarmupRampsThenHoldsBase) {
  // W = 2: 0.1 * 1/3, 0.1 * 2/3, then base.
  const LrSchedule schedule(make_config("none", 2), 0.1, 4, 1);
  expect_sequence(domain_lrs(schedule, 0, 4), {0.1 / 3, 0.2 / 3, 0.1, 0.1});
}

TEST(LrSchedule, NoneAllowsWarmupAsLongAsTheSchedule) {
  // W = N = 4: every epoch ramps, in steps of base / 5, and none reaches base.
  const LrSchedule schedule(make_config("none", 4), 0.1, 4, 1);
  expect_sequence(domain_lrs(schedule, 0, 4), {0.02, 0.04, 0.06, 0.08});
}

TEST(LrSchedule, OneWarmupEpochTrainsAtHalfTheLr) {
  // The case: a 1-epoch warm-up used to train at the full lr (a no-op that only
  // shortened the decay). Now it is half the lr for every schedule.
  for (const char* name : {"none", "step", "cosine", "linear"}) {
    const LrSchedule schedule(make_config(name, 1), 0.4, 3, 1);
    EXPECT_NEAR(schedule.lr(0, 0), 0.2, kTol) << name;
    EXPECT_NEAR(schedule.lr(0, 1), 0.4, kTol) << name;
  }
}

TEST(LrSchedule, CosineWithOneWarmupEpochAndTwoEpochsPerDomainChangesTheLr) {
  // Issue 14: cosine, warmup_epochs 1, epochs_per_domain 2 kept the lr constant.
  auto s = make_config("cosine", 1);
  s.min_lr = 0.0;
  const LrSchedule schedule(s, 0.01, 2, 3);
  for (int64_t d = 0; d < 3; ++d) expect_sequence(domain_lrs(schedule, d, 2), {0.005, 0.01});
  // Over the whole stream (N = 6, M = 5): 0.005, then 0.01 * (1 + cos(pi * u / 5)) / 2.
  s.per_domain = false;
  const LrSchedule stream(s, 0.01, 2, 3);
  expect_sequence(domain_lrs(stream, 0, 2), {0.005, 0.01});
  expect_sequence(domain_lrs(stream, 1, 2), {0.009045084971874737, 0.006545084971874737});
  expect_sequence(domain_lrs(stream, 2, 2), {0.0034549150281252633, 0.0009549150281252633});
}

TEST(LrSchedule, EveryScheduleWithEveryWarmupEpochByEpoch) {
  // base 1, min_lr 0.1, step: gamma 0.5 every 2 epochs; 5 epochs in one domain.
  struct Case {
    const char* name;
    int64_t warmup;
    std::vector<double> lrs;
  };
  const double c4 = std::cos(std::acos(-1.0) / 4);  // cos(pi / 4)
  const double c3 = 0.5;                            // cos(pi / 3)
  const std::vector<Case> cases = {
      {"none", 0, {1, 1, 1, 1, 1}},
      {"none", 1, {0.5, 1, 1, 1, 1}},
      {"none", 3, {0.25, 0.5, 0.75, 1, 1}},
      {"step", 0, {1, 1, 0.5, 0.5, 0.25}},
      {"step", 1, {0.5, 1, 1, 0.5, 0.5}},
      {"step", 2, {1.0 / 3, 2.0 / 3, 1, 1, 0.5}},
      // cosine: M = 5 - W epochs after the warm-up, 0.1 + 0.9 * (1 + cos(pi * u / M)) / 2.
      {"cosine", 0,
       {1, 0.1 + 0.45 * (1 + std::cos(std::acos(-1.0) / 5)),
        0.1 + 0.45 * (1 + std::cos(2 * std::acos(-1.0) / 5)),
        0.1 + 0.45 * (1 + std::cos(3 * std::acos(-1.0) / 5)),
        0.1 + 0.45 * (1 + std::cos(4 * std::acos(-1.0) / 5))}},
      {"cosine", 1, {0.5, 1, 0.1 + 0.45 * (1 + c4), 0.55, 0.1 + 0.45 * (1 - c4)}},
      {"cosine", 2, {1.0 / 3, 2.0 / 3, 1, 0.1 + 0.45 * (1 + c3), 0.1 + 0.45 * (1 - c3)}},
      {"cosine", 4, {0.2, 0.4, 0.6, 0.8, 1}},
      // linear: 1 + (0.1 - 1) * u / M.
      {"linear", 0, {1, 0.82, 0.64, 0.46, 0.28}},
      {"linear", 1, {0.5, 1, 0.775, 0.55, 0.325}},
      {"linear", 3, {0.25, 0.5, 0.75, 1, 0.55}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name) + " warmup " + std::to_string(c.warmup));
    auto s = make_config(c.name, c.warmup);
    s.min_lr = 0.1;
    s.gamma = 0.5;
    s.step_size = 2;
    const LrSchedule schedule(s, 1.0, 5, 1);
    expect_sequence(domain_lrs(schedule, 0, 5), c.lrs);
    // Warm-up epochs stay below base and rise; the first epoch after them is at base.
    for (int64_t e = 0; e < c.warmup; ++e) {
      EXPECT_LT(schedule.lr(0, e), 1.0);
      if (e > 0) EXPECT_GT(schedule.lr(0, e), schedule.lr(0, e - 1));
    }
    if (c.warmup < 5) EXPECT_NEAR(schedule.lr(0, c.warmup), 1.0, kTol);
  }
}

// The predecessor's cosine: torch's CosineAnnealingLR built once and stepped every epoch, its
// closed form periodic past T_max: down to min_lr at epoch T_max (the first epoch of domain 1
// when T_max = epochs_per_domain), back up over the next T_max epochs.
TEST(LrSchedule, CosineAnnealingIsTorchsPeriodicCosineOverTheWholeRun) {
  auto s = make_config("cosine_annealing", 0, /*per_domain=*/false);
  s.min_lr = 0.0;  // T_max 0: epochs_per_domain = 2
  const LrSchedule schedule(s, 1.0, 2, 3);
  expect_sequence(domain_lrs(schedule, 0, 2), {1.0, 0.5});
  expect_sequence(domain_lrs(schedule, 1, 2), {0.0, 0.5});
  expect_sequence(domain_lrs(schedule, 2, 2), {1.0, 0.5});
  s.T_max = 4;
  s.min_lr = 0.2;
  const LrSchedule longer(s, 1.0, 2, 3);
  const double c = std::cos(std::acos(-1.0) / 4);
  expect_sequence(domain_lrs(longer, 0, 2), {1.0, 0.2 + 0.4 * (1 + c)});
  expect_sequence(domain_lrs(longer, 1, 2), {0.6, 0.2 + 0.4 * (1 - c)});
  expect_sequence(domain_lrs(longer, 2, 2), {0.2, 0.2 + 0.4 * (1 - c)});
}

// The predecessor's linear: torch's LinearLR built once (the lr times start_factor at once) and
// stepped every epoch: the factor rises by (end - start) / total_iters per epoch and stays at
// end_factor after total_iters epochs, across domains.
TEST(LrSchedule, LinearLrIsTorchsLinearLrOverTheWholeRun) {
  auto s = make_config("linear_lr", 0, /*per_domain=*/false);
  s.start_factor = 0.1;  // total_iters 0: epochs_per_domain = 3
  s.end_factor = 1.0;
  const LrSchedule schedule(s, 2.0, 3, 2);
  expect_sequence(domain_lrs(schedule, 0, 3), {0.2, 0.8, 1.4});
  expect_sequence(domain_lrs(schedule, 1, 3), {2.0, 2.0, 2.0});
  s.total_iters = 4;
  s.start_factor = 1.0;
  s.end_factor = 0.5;
  const LrSchedule decay(s, 1.0, 3, 2);
  expect_sequence(domain_lrs(decay, 0, 3), {1.0, 0.875, 0.75});
  expect_sequence(domain_lrs(decay, 1, 3), {0.625, 0.5, 0.5});
  // Restarted with every domain when per_domain.
  s.per_domain = true;
  const LrSchedule restarted(s, 1.0, 3, 2);
  expect_sequence(domain_lrs(restarted, 1, 3), {1.0, 0.875, 0.75});
}

TEST(LrSchedule, StepHalvesEveryTwoEpochs) {
  auto s = make_config("step", 0);
  s.step_size = 2;
  s.gamma = 0.5;
  const LrSchedule schedule(s, 0.8, 6, 1);
  expect_sequence(domain_lrs(schedule, 0, 6), {0.8, 0.8, 0.4, 0.4, 0.2, 0.2});
}

TEST(LrSchedule, StepCountsStepsFromTheEndOfWarmup) {
  auto s = make_config("step", 2);
  s.step_size = 2;
  s.gamma = 0.5;
  const LrSchedule schedule(s, 0.9, 7, 1);
  expect_sequence(domain_lrs(schedule, 0, 7), {0.3, 0.6, 0.9, 0.9, 0.45, 0.45, 0.225});
}

TEST(LrSchedule, CosineStartsAtBaseAndStopsAboveMinLr) {
  auto s = make_config("cosine", 0);
  s.min_lr = 0.2;
  const LrSchedule schedule(s, 1.0, 4, 1);
  // M = 4: 0.2 + 0.8 * (1 + cos(pi * u / 4)) / 2 for u = 0..3; the last is above min_lr.
  expect_sequence(domain_lrs(schedule, 0, 4), {1.0, 0.882842712474619, 0.6, 0.317157287525381});
}

TEST(LrSchedule, CosineWithWarmup) {
  auto s = make_config("cosine", 2);
  s.min_lr = 0.1;
  const LrSchedule schedule(s, 0.6, 5, 1);
  // Warm-up 0.2, 0.4; then M = 3: 0.1 + 0.5 * {1, 0.75, 0.25}.
  expect_sequence(domain_lrs(schedule, 0, 5), {0.2, 0.4, 0.6, 0.475, 0.225});
}

TEST(LrSchedule, LinearStartsAtBaseAndStopsAboveMinLr) {
  auto s = make_config("linear", 0);
  s.min_lr = 0.2;
  const LrSchedule schedule(s, 1.0, 4, 1);
  expect_sequence(domain_lrs(schedule, 0, 4), {1.0, 0.8, 0.6, 0.4});
}

TEST(LrSchedule, LinearWithWarmup) {
  auto s = make_config("linear", 2);
  s.min_lr = 0.2;
  const LrSchedule schedule(s, 1.2, 6, 1);
  // Warm-up 0.4, 0.8; then M = 4: 1.2 - 1.0 * u / 4.
  expect_sequence(domain_lrs(schedule, 0, 6), {0.4, 0.8, 1.2, 0.95, 0.7, 0.45});
}

TEST(LrSchedule, SingleEpochAfterWarmupIsBase) {
  // M = 1 for every schedule: the warm-up epoch at base / 2, the one post-warm-up epoch
  // (u = 0) at base.
  for (const char* name : {"step", "cosine", "linear"}) {
    auto s = make_config(name, 1);
    s.gamma = 0.5;
    s.min_lr = 0.3;
    const LrSchedule schedule(s, 0.6, 2, 1);
    EXPECT_EQ(schedule.length(), 2) << name;
    expect_sequence(domain_lrs(schedule, 0, 2), {0.3, 0.6});
  }
}

TEST(LrSchedule, PerDomainRestartsWithEveryDomain) {
  const LrSchedule schedule(make_config("cosine", 2, /*per_domain=*/true), 1.0, 4, 3);
  EXPECT_EQ(schedule.length(), 4);
  // Warm-up 1/3, 2/3; then M = 2: (1 + cos(pi * u / 2)) / 2 = 1, 0.5.
  for (int64_t d = 0; d < 3; ++d) {
    expect_sequence(domain_lrs(schedule, d, 4), {1.0 / 3, 2.0 / 3, 1.0, 0.5});
  }
  EXPECT_NEAR(schedule.lr(1, 0), schedule.lr(0, 0), kTol);
}

TEST(LrSchedule, WholeStreamContinuesAcrossDomains) {
  const LrSchedule schedule(make_config("cosine", 2, /*per_domain=*/false), 1.0, 2, 3);
  EXPECT_EQ(schedule.length(), 6);
  // t = 0..5: warm-up 1/3, 2/3; then M = 4: (1 + cos(pi * u / 4)) / 2 for u = 0..3.
  expect_sequence(domain_lrs(schedule, 0, 2), {1.0 / 3, 2.0 / 3});
  expect_sequence(domain_lrs(schedule, 1, 2), {1.0, 0.8535533905932737});
  expect_sequence(domain_lrs(schedule, 2, 2), {0.5, 0.14644660940672627});
  EXPECT_GT(std::abs(schedule.lr(1, 0) - schedule.lr(0, 0)), 0.1);
}

TEST(LrSchedule, StepOverTheWholeStreamVersusPerDomain) {
  auto s = make_config("step", 0, /*per_domain=*/false);
  s.step_size = 2;
  s.gamma = 0.5;
  const LrSchedule stream(s, 1.0, 2, 3);
  expect_sequence(domain_lrs(stream, 0, 2), {1.0, 1.0});
  expect_sequence(domain_lrs(stream, 1, 2), {0.5, 0.5});
  expect_sequence(domain_lrs(stream, 2, 2), {0.25, 0.25});
  s.per_domain = true;
  const LrSchedule restart(s, 1.0, 2, 3);
  EXPECT_EQ(restart.length(), 2);
  for (int64_t d = 0; d < 3; ++d) expect_sequence(domain_lrs(restart, d, 2), {1.0, 1.0});
}

TEST(LrSchedule, UnknownNameIsAConfigErrorWithASuggestion) {
  const std::string message =
      config_error_of([] { LrSchedule(make_config("cosin", 0), 0.1, 3, 2); });
  EXPECT_TRUE(contains(message, "scheduler.name")) << message;
  EXPECT_TRUE(contains(message, "unknown scheduler 'cosin'")) << message;
  EXPECT_TRUE(contains(message, "did you mean 'cosine'?")) << message;
  EXPECT_TRUE(contains(message, "none, step, cosine, cosine_annealing, linear, linear_lr"))
      << message;
}

TEST(LrSchedule, WarmupFillingTheScheduleIsRejectedExceptForNone) {
  for (const char* name : {"step", "cosine", "linear"}) {
    const std::string message =
        config_error_of([&] { LrSchedule(make_config(name, 3, true), 0.1, 3, 2); });
    EXPECT_TRUE(contains(message, "scheduler.warmup_epochs")) << name << ": " << message;
    EXPECT_TRUE(contains(message, "3 warm-up epochs leave nothing of the 3-epoch schedule"))
        << name << ": " << message;
  }
  // Over the whole stream the same warm-up fits: N = 3 * 2 = 6.
  EXPECT_NO_THROW(LrSchedule(make_config("cosine", 3, false), 0.1, 3, 2));
  const std::string stream =
      config_error_of([] { LrSchedule(make_config("linear", 6, false), 0.1, 3, 2); });
  EXPECT_TRUE(contains(stream, "scheduler.warmup_epochs")) << stream;
  EXPECT_TRUE(contains(stream, "6-epoch schedule (epochs_per_domain x num_partitions)")) << stream;
  // "none" may warm up for the whole schedule, not longer.
  EXPECT_NO_THROW(LrSchedule(make_config("none", 3, true), 0.1, 3, 2));
  const std::string none =
      config_error_of([] { LrSchedule(make_config("none", 4, true), 0.1, 3, 2); });
  EXPECT_TRUE(contains(none, "scheduler.warmup_epochs")) << none;
  EXPECT_TRUE(contains(none, "4 warm-up epochs are longer than the 3-epoch schedule")) << none;
}

TEST(LrSchedule, OtherInvalidInputsAreConfigErrors) {
  auto step = make_config("step", 0);
  step.step_size = 0;
  EXPECT_TRUE(
      contains(config_error_of([&] { LrSchedule(step, 0.1, 3, 1); }), "scheduler.step_size: is 0"));
  EXPECT_TRUE(contains(config_error_of([] { LrSchedule(make_config("none", -1), 0.1, 3, 1); }),
                       "scheduler.warmup_epochs: is -1"));
  EXPECT_TRUE(contains(config_error_of([] { LrSchedule(make_config("none", 0), 0.1, 0, 1); }),
                       "epochs_per_domain: is 0"));
  EXPECT_TRUE(contains(config_error_of([] { LrSchedule(make_config("none", 0), 0.1, 3, 0); }),
                       "num_domains is 0"));
}

TEST(LrSchedule, EpochOrDomainOutOfRangeIsAConfigError) {
  const LrSchedule schedule(make_config("linear", 0), 0.1, 3, 2);
  EXPECT_TRUE(
      contains(config_error_of([&] { schedule.lr(2, 0); }), "domain 2 is out of range [0, 2)"));
  EXPECT_TRUE(
      contains(config_error_of([&] { schedule.lr(-1, 0); }), "domain -1 is out of range [0, 2)"));
  EXPECT_TRUE(
      contains(config_error_of([&] { schedule.lr(0, 3); }), "epoch 3 is out of range [0, 3)"));
  EXPECT_TRUE(
      contains(config_error_of([&] { schedule.lr(0, -1); }), "epoch -1 is out of range [0, 3)"));
}

}  // namespace
}  // namespace moedil::train
