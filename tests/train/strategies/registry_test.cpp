// Every registered strategy: named in configs (validation), listed, and resumed bit for bit.
#include "moedil/train/strategies/registry.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/train/observers.h"
#include "../rig.h"

namespace moedil::train {
namespace {

TEST(StrategyRegistry, ListsTheSixStrategiesWithTheirPapers) {
  EXPECT_EQ(strategy_registry().names(),
            (std::vector<std::string>{"joint", "ewc", "lwf", "der", "derpp", "agem"}));
  const std::vector<std::string> papers = {"upper bound", "Schwarz et al. 2018", "Li & Hoiem 2016",
                                           "Buzzega et al. 2020", "Buzzega et al. 2020",
                                           "Chaudhry et al. 2019"};
  for (std::size_t i = 0; i < papers.size(); ++i) {
    const auto& entry = strategy_registry().entries()[i];
    EXPECT_NE(entry.description.find(papers[i]), std::string::npos) << entry.name;
  }
}

TEST(StrategyRegistry, ConfigsNameStrategiesAndTheirMemory) {
  EXPECT_NE(Rig::config_error(R"({"strategy": "ewcc"})").find("did you mean 'ewc'"),
            std::string::npos);
  EXPECT_NE(Rig::config_error(R"({"strategy": ["lwf", "lwf"]})").find("'lwf' is listed twice"),
            std::string::npos);
  EXPECT_NE(Rig::config_error(R"({"strategy": ["der", "derpp"]})").find("lists both der and derpp"),
            std::string::npos);
  EXPECT_NE(Rig::config_error(R"({"strategy": "agem", "replay": {"capacity": 0}})")
                .find("agem keeps its memory with replay.capacity"),
            std::string::npos);
  EXPECT_NE(Rig::config_error(R"({"strategy": 3})").find("expected a name or a list of names"),
            std::string::npos);
  EXPECT_EQ(Rig::config_error(R"({"strategy": ["ewc", "lwf", "derpp", "agem"]})"), "");
  Rig rig(R"({"strategy": ["ewc", "lwf"]})");
  EXPECT_EQ(rig.config.strategy.names, (std::vector<std::string>{"ewc", "lwf"}));
  EXPECT_TRUE(Rig().config.strategy.names.empty());
}

/// Requests a stop at the end of epoch `after` (counted over the run), after the checkpoint.
struct StopAfter : TrainerPlugin {
  explicit StopAfter(int64_t n) : after(n) {}
  std::string name() const override { return "stop_after"; }
  void on_epoch_end(TrainingState& s) override {
    if (static_cast<int64_t>(s.record.epochs.size()) == after) stop_flag().store(2);
  }
  int64_t after;
};

class StrategyResume : public ::testing::TestWithParam<std::string> {};

TEST_P(StrategyResume, AnInterruptedRunResumesBitForBit) {
  const std::string patch =
      R"({"strategy": ")" + GetParam() + R"(", "replay": {"capacity": 20, "ratio": 0.5}})";
  Rig whole(patch);
  whole.trainer()->run();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("moedil_strategy_resume_" + GetParam() + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Stopped once in the middle of a domain (after epoch 3 = domain 1, epoch 0) and once at a
  // domain's end (after epoch 4), resumed each time by a new trainer.
  for (const int64_t stop_after : {3, 4}) {
    SCOPED_TRACE(stop_after);
    const auto checkpoint = dir / ("checkpoint" + std::to_string(stop_after) + ".pt");
    // The epochs go to the run directory's files, as in a run (train/experiment.cpp).
    const auto run_dir = dir / ("run" + std::to_string(stop_after));
    std::filesystem::create_directories(run_dir);
    Rig first(patch);
    {
      auto trainer = first.trainer();
      ResultsWriter writer(run_dir);
      writer.store().start_fresh();
      trainer->add_plugin(&writer);
      trainer->enable_checkpoints(checkpoint);
      StopAfter stop(stop_after);
      trainer->add_plugin(&stop);
      EXPECT_THROW(trainer->run(), InterruptedError);
      stop_flag().store(0);
    }
    Rig second(patch);
    auto trainer = second.trainer();
    ResultsWriter writer(run_dir);
    trainer->add_plugin(&writer);
    trainer->resume(checkpoint);
    writer.store().restore(second.record);
    EXPECT_EQ(second.record.epochs.size(), static_cast<std::size_t>(stop_after));
    trainer->run();
    ASSERT_EQ(second.record.epochs.size(), whole.record.epochs.size());
    for (std::size_t k = 0; k < whole.record.epochs.size(); ++k) {
      EXPECT_EQ(second.record.epochs[k].train_loss, whole.record.epochs[k].train_loss) << k;
    }
    EXPECT_EQ(second.record.r_matrix, whole.record.r_matrix);
    ASSERT_TRUE(second.record.metrics && whole.record.metrics);
    EXPECT_EQ(second.record.metrics->acc, whole.record.metrics->acc);
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, StrategyResume,
                         ::testing::Values("joint", "ewc", "lwf", "der", "derpp", "agem"));

}  // namespace
}  // namespace moedil::train
