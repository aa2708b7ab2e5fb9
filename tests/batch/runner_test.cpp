#include "moedil/batch/runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "moedil/common/error.h"
#include "moedil/io/run_lock.h"
#include "moedil/io/run_record.h"

namespace moedil::batch {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

io::RunRecord record(const std::string& status, const std::string& error = "") {
  io::RunRecord r;
  r.run.id = "fake";
  r.run.config_name = "fake";
  r.run.status = status;
  r.run.error = error;
  r.run.started = "2026-01-01T00:00:00Z";
  r.domains = {"d0", "d1"};
  io::EpochRecord e;
  io::EvalRecord a, b;
  a.acc = 0.5;
  b.acc = 0.75;
  e.eval = {a, b};
  r.epochs.push_back(e);
  return r;
}

/// A stand-in for the moedil binary: `run CONFIG --run-dir DIR ...` or `run --resume DIR ...`.
/// Its behaviour comes from the config's file name (ok, nan, crash, bad, slow, hang); each call
/// is logged to calls.log, one line per call with the arguments separated by '|'.
class FakeMoedil : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_runner_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "completed.json") << io::to_json(record("completed")).dump();
    std::ofstream(dir_ / "failed.json") << io::to_json(record("failed", "loss is NaN at domain 0")).dump();
    std::ofstream(dir_ / "running.json") << io::to_json(record("running")).dump();
    std::ofstream(dir_ / "interrupted.json") << io::to_json(record("interrupted", "interrupted")).dump();
    const fs::path fake = dir_ / "fake moedil";  // a space in the path: execv needs no quoting
    std::ofstream(fake) << R"(#!/bin/bash
F=')" << dir_.string() << R"('
(IFS='|'; echo "$*") >> "$F/calls.log"
shift
if [ "$1" = "--resume" ]; then dir=$2; behavior=$(cat "$dir/behavior"); else dir=$3; behavior=$(basename "$1" .jsonc); fi
mkdir -p "$dir"; echo "$behavior" > "$dir/behavior"
echo "fake output for $behavior"
case "$behavior" in
  ok) cp "$F/completed.json" "$dir/run.json"; exit 0;;
  nan) cp "$F/failed.json" "$dir/run.json"; exit 1;;
  crash) kill -SEGV $$;;
  bad) echo "config error: bad key" >&2; exit 2;;
  busy) (flock -n "$dir/.lock" bash -c "touch '$dir/held'; sleep 0.3; cp '$F/completed.json' '$dir/run.json'") &
        for _ in $(seq 500); do [ -e "$dir/held" ] && break; sleep 0.01; done
        echo "$dir is being run by another live moedil process" >&2; exit 2;;
  slow) mkdir "$F/slot.$$"; ls -d "$F"/slot.* | wc -l >> "$F/concurrency.log"; sleep 0.4; rmdir "$F/slot.$$"
        cp "$F/completed.json" "$dir/run.json"; exit 0;;
  hang) trap 'cp "$F/interrupted.json" "$dir/run.json"; exit 130' INT
        cp "$F/running.json" "$dir/run.json"; while true; do sleep 0.05; done;;
esac
exit 3
)";
    fs::permissions(fake, fs::perms::owner_all);
    options_.moedil = fake;
    options_.console_dir = dir_ / "logs";
    options_.cores = 4;
    options_.draw_seed = [] { return int64_t{777}; };
    options_.poll_seconds = 0.01;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<PlannedRun> plan(const std::vector<std::string>& behaviors, const json& seeds = json::object()) {
    json meta{{"configs", json::array()}, {"results_dir", (dir_ / "results").string()}};
    for (const auto& b : behaviors) meta["configs"].push_back((dir_ / "configs" / (b + ".jsonc")).string());
    if (!seeds.empty()) meta["seeds"] = seeds;
    std::vector<std::string> problems;
    auto m = parse_metaconfig(meta, "m.jsonc", problems);
    EXPECT_TRUE(problems.empty());
    return expand(m);
  }

  std::vector<std::string> calls() {
    std::vector<std::string> out;
    std::istringstream in(slurp(dir_ / "calls.log"));
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  fs::path dir_;
  RunnerOptions options_;
  std::atomic<bool> stop_{false};
};

TEST_F(FakeMoedil, StartsEveryRunWithItsDirSeedsThreadsAndDevice) {
  const auto p = plan({"ok"}, json{{"global", {5, "random"}}});
  options_.devices = {"cuda:1"};
  const auto outcomes = execute(p, options_, stop_);
  ASSERT_EQ(outcomes.size(), 2u);
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.status, "completed");
    EXPECT_EQ(o.action, Action::start);
    ASSERT_TRUE(o.acc.has_value());
    EXPECT_DOUBLE_EQ(*o.acc, 0.625);
    EXPECT_GT(o.wall_seconds, 0.0);
  }
  const auto c = calls();
  ASSERT_EQ(c.size(), 2u);
  // The kinds the metaconfig does not list are unseeded: they follow global (null).
  std::string unlisted;
  for (const char* kind : {"dataset", "partition", "loader", "model", "training", "pretrain",
                           "baseline", "replay"}) {
    unlisted += std::string("|--set|seeds.") + kind + "=null";
  }
  EXPECT_EQ(c[0], "run|" + p[0].config_path + "|--run-dir|" + p[0].run_dir.string() +
                      "|--set|seeds.global=5" + unlisted + "|--threads|4|--device|cuda:1");
  EXPECT_NE(c[1].find("|--set|seeds.global=777|"), std::string::npos) << c[1];
  EXPECT_TRUE(fs::exists(p[0].run_dir / "run.json"));
  EXPECT_NE(slurp(dir_ / "logs" / (p[0].key + ".out")).find("fake output for ok"), std::string::npos);
  EXPECT_FALSE(any_failed(outcomes));
}

TEST_F(FakeMoedil, OneFailingRunNeverStopsTheOthers) {
  const auto p2 = plan({"crash", "nan", "bad", "ok"});
  const auto outcomes = execute(p2, options_, stop_);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].status, "failed");
  EXPECT_EQ(outcomes[0].exit_code, 128 + SIGSEGV);
  EXPECT_NE(outcomes[0].error.find("killed by signal 11"), std::string::npos) << outcomes[0].error;
  EXPECT_EQ(outcomes[1].status, "failed");
  EXPECT_EQ(outcomes[1].error, "loss is NaN at domain 0");
  EXPECT_EQ(outcomes[2].status, "failed");
  EXPECT_EQ(outcomes[2].exit_code, 2);
  EXPECT_NE(outcomes[2].error.find("exit code 2: config error: bad key (console output: "), std::string::npos) << outcomes[2].error;
  EXPECT_NE(outcomes[2].error.find(".out"), std::string::npos);
  EXPECT_EQ(outcomes[3].status, "completed");
  EXPECT_TRUE(any_failed(outcomes));
  const std::string summary = format_summary(outcomes);
  EXPECT_NE(summary.find("4 runs: 1 completed, 3 failed"), std::string::npos) << summary;
  EXPECT_NE(summary.find("loss is NaN at domain 0"), std::string::npos);
  EXPECT_NE(summary.find("0.6250"), std::string::npos);
}

TEST_F(FakeMoedil, ASecondInvocationSkipsCompletedAndResumesInterrupted) {
  const auto p = plan({"ok", "nan"}, json{{"global", {1, 2}}});
  execute(p, options_, stop_);
  EXPECT_EQ(calls().size(), 4u);
  // Group 1 of ok was interrupted; group 0 of ok killed while running (lock free).
  fs::copy_file(dir_ / "interrupted.json", p[1].run_dir / "run.json", fs::copy_options::overwrite_existing);
  fs::copy_file(dir_ / "running.json", p[0].run_dir / "run.json", fs::copy_options::overwrite_existing);
  EXPECT_EQ(decide(p[0], false).action, Action::resume);
  EXPECT_EQ(decide(p[1], false).action, Action::resume);
  EXPECT_EQ(decide(p[2], false).action, Action::skip_failed);
  EXPECT_EQ(decide(p[2], true).action, Action::retry);

  const auto second = execute(p, options_, stop_);
  const auto c = calls();
  ASSERT_EQ(c.size(), 6u);
  EXPECT_EQ(c[4], "run|--resume|" + p[0].run_dir.string() + "|--threads|4");
  EXPECT_EQ(c[5], "run|--resume|" + p[1].run_dir.string() + "|--threads|4");
  EXPECT_EQ(second[0].status, "completed");
  EXPECT_EQ(second[1].status, "completed");
  EXPECT_EQ(second[2].status, "failed");  // failed before, not retried: still counts
  EXPECT_EQ(second[2].action, Action::skip_failed);

  // Third: everything completed is skipped, nothing starts.
  const auto third = execute({p[0], p[1]}, options_, stop_);
  EXPECT_EQ(calls().size(), 6u);
  EXPECT_EQ(third[0].action, Action::skip_completed);
  EXPECT_EQ(third[0].status, "completed");
  ASSERT_TRUE(third[0].acc.has_value());

  // --retry-failed moves the failed attempt aside and starts afresh.
  options_.retry_failed = true;
  const auto fourth = execute(p, options_, stop_);
  EXPECT_EQ(calls().size(), 8u);  // both nan groups
  EXPECT_EQ(fourth[2].action, Action::retry);
  EXPECT_EQ(fourth[3].action, Action::retry);
  EXPECT_EQ(calls()[6].rfind("run|" + p[2].config_path + "|--run-dir|", 0), 0u);
  EXPECT_FALSE(fs::is_empty(p[2].run_dir.parent_path() / ".failed"));
}

TEST_F(FakeMoedil, ARunHeldElsewhereIsWaitedForAndTakenAsItsHolderLeftIt) {
  const auto p = plan({"ok"}, json{{"global", {1, 2}}});  // two seed groups: two runs
  options_.wait_poll_seconds = 0.02;
  for (const auto& run : p) {
    fs::create_directories(run.run_dir);
    fs::copy_file(dir_ / "running.json", run.run_dir / "run.json");
    std::ofstream(run.run_dir / "behavior") << "ok\n";  // what the fake does on --resume
  }
  // Another process holds both: it completes the first, and is killed during the second.
  std::optional<io::RunLock> first = io::RunLock::try_acquire(p[0].run_dir);
  std::optional<io::RunLock> second = io::RunLock::try_acquire(p[1].run_dir);
  ASSERT_TRUE(first && second);
  std::vector<std::string> events;
  std::thread holder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    fs::copy_file(dir_ / "completed.json", p[0].run_dir / "run.json",
                  fs::copy_options::overwrite_existing);
    first.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    second.reset();  // run.json still says running: killed
  });
  const auto outcomes = execute(p, options_, stop_, [&](const char* event, const RunOutcome& o) {
    events.push_back(std::string(event) + " " + o.key + " " + o.status);
  });
  holder.join();
  EXPECT_EQ(outcomes[0].action, Action::skip_live);
  EXPECT_EQ(outcomes[0].status, "completed");
  EXPECT_TRUE(outcomes[0].acc.has_value());
  EXPECT_EQ(outcomes[1].action, Action::resume);  // taken over once its holder was gone
  EXPECT_EQ(outcomes[1].status, "completed");
  const auto c = calls();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], "run|--resume|" + p[1].run_dir.string() + "|--threads|4");
  EXPECT_FALSE(any_failed(outcomes));
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0], "wait " + p[0].key + " running elsewhere");
  EXPECT_EQ(decide(p[0], false).action, Action::skip_completed);
}

TEST_F(FakeMoedil, AStopEndsTheWaitForRunsHeldElsewhere) {
  const auto p = plan({"ok"});
  fs::create_directories(p[0].run_dir);
  fs::copy_file(dir_ / "running.json", p[0].run_dir / "run.json");
  auto lock = io::RunLock::try_acquire(p[0].run_dir);
  ASSERT_TRUE(lock.has_value());
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop_.store(true);
  });
  const auto outcomes = execute(p, options_, stop_);
  stopper.join();
  EXPECT_EQ(outcomes[0].status, kRunningElsewhere);
  EXPECT_FALSE(any_failed(outcomes));
  EXPECT_FALSE(fs::exists(dir_ / "calls.log"));
}

TEST_F(FakeMoedil, AChildRefusedBecauseAnotherProcessHoldsTheRunIsNoFailure) {
  // The fake "busy" run finds another process (flock(1) in the background) holding the run
  // when it starts, as a second batch of the same metaconfig does: it exits 2, and that
  // process completes the run a little later.
  const auto p = plan({"busy"});
  options_.wait_poll_seconds = 0.02;
  const auto outcomes = execute(p, options_, stop_);
  EXPECT_EQ(outcomes[0].status, "completed") << outcomes[0].error;
  EXPECT_EQ(outcomes[0].exit_code, 2);
  EXPECT_FALSE(any_failed(outcomes));
  EXPECT_EQ(calls().size(), 1u);
  const std::string summary = format_summary(outcomes);
  EXPECT_NE(summary.find("1 runs: 1 completed, 0 failed"), std::string::npos) << summary;
}

TEST_F(FakeMoedil, APlantedLinkAtTheConsoleLogFailsTheRunWithoutFollowingIt) {
  const auto p = plan({"ok"});
  fs::create_directories(options_.console_dir);
  std::ofstream(dir_ / "victim") << "precious";
  fs::create_symlink(dir_ / "victim", options_.console_dir / (p[0].key + ".out"));
  const auto outcomes = execute(p, options_, stop_);
  EXPECT_EQ(outcomes[0].status, "failed");
  EXPECT_NE(outcomes[0].error.find(".out: is a symbolic link"), std::string::npos)
      << outcomes[0].error;
  EXPECT_EQ(slurp(dir_ / "victim"), "precious");
  EXPECT_FALSE(fs::exists(dir_ / "calls.log"));
}

TEST_F(FakeMoedil, UnreadableRunJsonCountsAsFailed) {
  const auto p = plan({"ok"});
  fs::create_directories(p[0].run_dir);
  std::ofstream(p[0].run_dir / "run.json") << "{\"schema_ver";
  const RunState s = decide(p[0], false);
  EXPECT_EQ(s.action, Action::skip_failed);
  EXPECT_EQ(s.status, "unreadable");
  EXPECT_NE(s.error.find("run.json"), std::string::npos);
}

TEST_F(FakeMoedil, JobsRunConcurrentlyEachWithItsDeviceAndThreadShare) {
  const auto p = plan({"slow"}, json{{"global", {1, 2, 3, 4}}});
  options_.jobs = 2;
  options_.devices = parse_devices("0,1");
  const auto outcomes = execute(p, options_, stop_);
  for (const auto& o : outcomes) EXPECT_EQ(o.status, "completed");
  // Each fake counts the runs alive when it starts: two overlapped, never three.
  const std::string conc = slurp(dir_ / "concurrency.log");
  EXPECT_NE(conc.find('2'), std::string::npos) << conc;
  EXPECT_EQ(conc.find('3'), std::string::npos) << conc;
  int cuda0 = 0, cuda1 = 0;
  for (const auto& c : calls()) {
    EXPECT_NE(c.find("|--threads|2|"), std::string::npos) << c;
    cuda0 += c.find("--device|cuda:0") != std::string::npos;
    cuda1 += c.find("--device|cuda:1") != std::string::npos;
  }
  EXPECT_EQ(cuda0 + cuda1, 4);
  EXPECT_GE(cuda0, 1);
  EXPECT_GE(cuda1, 1);
}

TEST_F(FakeMoedil, StopForwardsSigintAndStartsNothingMore) {
  const auto p = plan({"hang", "ok"});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    stop_.store(true);
  });
  const auto outcomes = execute(p, options_, stop_);
  stopper.join();
  EXPECT_EQ(outcomes[0].status, "interrupted");
  EXPECT_EQ(outcomes[0].exit_code, 130);
  EXPECT_EQ(outcomes[1].status, "not started");
  EXPECT_FALSE(any_failed(outcomes));
  EXPECT_EQ(calls().size(), 1u);
}

TEST_F(FakeMoedil, AMissingBinaryFailsTheRunNotTheBatch) {
  options_.moedil = dir_ / "no-such-binary";
  const auto outcomes = execute(plan({"ok"}), options_, stop_);
  EXPECT_EQ(outcomes[0].status, "failed");
  EXPECT_EQ(outcomes[0].exit_code, 127);
}

TEST_F(FakeMoedil, DryRunShowsActionsAndCommandsAndStartsNothing) {
  const auto p = plan({"ok"}, json{{"global", {"random"}}});
  const auto outcomes = dry_run(p, options_);
  EXPECT_EQ(outcomes[0].status, "planned");
  EXPECT_EQ(outcomes[0].action, Action::start);
  EXPECT_NE(display_command(options_.moedil, outcomes[0].command).find("seeds.global=random"),
            std::string::npos);
  EXPECT_NE(display_command(options_.moedil, outcomes[0].command).find("'"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "calls.log"));
  EXPECT_FALSE(fs::exists(p[0].run_dir));
}

TEST(Devices, ParsesCpuGpuNumbersAndRejectsTheRest) {
  EXPECT_EQ(parse_devices("cpu"), (std::vector<std::string>{"cpu"}));
  EXPECT_EQ(parse_devices("0,1"), (std::vector<std::string>{"cuda:0", "cuda:1"}));
  EXPECT_EQ(parse_devices("cuda:2,cpu"), (std::vector<std::string>{"cuda:2", "cpu"}));
  EXPECT_TRUE(parse_devices("").empty());
  EXPECT_THROW(parse_devices("gpu0"), UsageError);
  EXPECT_THROW(parse_devices("0,,1"), UsageError);
  EXPECT_THROW(parse_devices("0;rm"), UsageError);
}

TEST(Cores, AtLeastOne) { EXPECT_GE(available_cores(), 1); }

}  // namespace
}  // namespace moedil::batch
