#include "moedil/batch/status.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "moedil/io/run_lock.h"
#include "moedil/io/run_record.h"
#include "moedil/io/run_store.h"

namespace moedil::batch {
namespace {
namespace fs = std::filesystem;

io::RunRecord make(const std::string& status, int epochs_done, const std::string& error = "") {
  io::RunRecord r;
  r.run.config_name = "rot";
  r.run.status = status;
  r.run.error = error;
  r.run.config = {{"epochs_per_domain", 2}, {"num_partitions", 3}};
  r.run.started = "2026-01-01T10:00:00Z";
  if (status != "running") r.run.finished = "2026-01-01T10:01:30Z";
  r.domains = {"a", "b", "c"};
  for (int k = 0; k < epochs_done; ++k) {
    io::EpochRecord e;
    e.domain = k / 2;
    e.epoch = k % 2;
    e.seconds = 8.0;
    e.eval_seconds = 2.0;
    io::EvalRecord x, y;
    x.acc = 0.5 + 0.1 * k;
    y.acc = 0.3;
    e.eval = {x, y};
    r.epochs.push_back(e);
  }
  return r;
}

class StatusTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("moedil_status_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    write("rot/rot-g0-0123abcd", make("completed", 6));
    write("rot/rot-g1-89abcdef", make("running", 3));  // live: the test holds its lock
    write("rot/rot-g2-00000000", make("running", 1));  // killed: nobody holds the lock
    write("rot/rot-g3-11111111", make("failed", 2, "loss is NaN at domain 1 epoch 0"));
    write("other/vit_moe_synthetic_20260101-100000_ab12", make("interrupted", 4, "interrupted"));
    fs::create_directories(root_ / "rot/broken");
    std::ofstream(root_ / "rot/broken/run.json") << "{\"schema_";
    write("rot/.failed/rot-g3-11111111-20260101-090000", make("failed", 1, "old attempt"));
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const std::string& rel, const io::RunRecord& r) {
    fs::create_directories(root_ / rel);
    std::ofstream(root_ / rel / "run.json") << io::to_json(r).dump(1);
  }
  fs::path root_;
};

TEST_F(StatusTree, OneRowPerRunWithProgressEtaAccuracyAndErrors) {
  auto lock = io::RunLock::try_acquire(root_ / "rot/rot-g1-89abcdef");
  ASSERT_TRUE(lock.has_value());
  const auto now = std::chrono::system_clock::from_time_t(*parse_utc_iso("2026-01-01T10:00:45Z"));
  const auto rows = collect_status(root_, now);
  ASSERT_EQ(rows.size(), 6u);  // .failed is hidden
  // Sorted by path: other/..., rot/broken, rot/rot-g0..g3
  EXPECT_EQ(rows[0].status, "interrupted");
  EXPECT_EQ(rows[0].group, "-");
  EXPECT_EQ(rows[1].status, "unreadable");
  EXPECT_NE(rows[1].error.find("broken/run.json"), std::string::npos);

  const StatusRow& done = rows[2];
  EXPECT_EQ(done.run, "rot-g0-0123abcd");
  EXPECT_EQ(done.group, "g0");
  EXPECT_EQ(done.status, "completed");
  EXPECT_EQ(done.domain, 3);
  EXPECT_EQ(done.epoch, 2);
  EXPECT_DOUBLE_EQ(done.elapsed_seconds, 90.0);
  EXPECT_FALSE(done.eta_seconds.has_value());
  ASSERT_TRUE(done.acc.has_value());
  EXPECT_NEAR(*done.acc, (1.0 + 0.3) / 2, 1e-12);

  const StatusRow& live = rows[3];
  EXPECT_EQ(live.status, "running");
  EXPECT_EQ(live.domain, 2);  // epoch index 2 = domain 1, epoch 0
  EXPECT_EQ(live.epoch, 1);
  EXPECT_EQ(live.num_domains, 3);
  EXPECT_EQ(live.epochs_per_domain, 2);
  EXPECT_DOUBLE_EQ(live.elapsed_seconds, 45.0);
  ASSERT_TRUE(live.eta_seconds.has_value());
  EXPECT_DOUBLE_EQ(*live.eta_seconds, 30.0);  // 3 epochs left x 10 s

  EXPECT_EQ(rows[4].status, "killed");
  EXPECT_FALSE(rows[4].eta_seconds.has_value());
  EXPECT_EQ(rows[5].status, "failed");
  EXPECT_EQ(rows[5].error, "loss is NaN at domain 1 epoch 0");

  const std::string table = format_status(rows);
  EXPECT_EQ(table.substr(0, table.find('\n')),
            "RUN                                     CONFIG  GROUP  STATUS       DOMAIN  "
            "EPOCH  ELAPSED  ETA  ACC     ERROR");
  EXPECT_NE(table.find("\nrot-g1-89abcdef                         rot     g1     running      "
                       "2/3     1/2    45s      30s  0.5000\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("loss is NaN at domain 1 epoch 0"), std::string::npos);
  EXPECT_NE(table.find("6 runs: 1 completed, 1 failed, 1 interrupted, 1 killed, 1 running, 1 unreadable"),
            std::string::npos)
      << table;
}

TEST(Status, RunDirectoriesOfSchema7AreReadFromProgressJson) {
  const fs::path root = fs::temp_directory_path() / ("moedil_status7_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const auto store_run = [&](const std::string& rel, io::RunRecord r) {
    fs::create_directories(root / rel);
    const io::RunStore store(root / rel);
    store.start_fresh();
    std::vector<io::EpochRecord> epochs = std::move(r.epochs);
    r.epochs.clear();
    r.r_history.assign(2, {});
    for (io::EpochRecord& e : epochs) {
      r.r_history[static_cast<std::size_t>(e.epoch)].push_back({0.0, 0.0});
      r.epochs.push_back(std::move(e));
      store.append_last_epoch(r);
    }
    store.write_summary(r);
  };
  store_run("rot/live", make("running", 3));
  store_run("rot/cut", make("running", 5));
  // run.json was rewritten as completed, progress.json not (stopped in between).
  io::RunRecord done = make("completed", 6);
  done.r_history.assign(2, {});
  for (int k = 0; k < 6; ++k) done.r_history[static_cast<std::size_t>(k % 2)].push_back({0.0, 0.0});
  done.epochs.clear();
  std::ofstream(root / "rot/cut/run.json", std::ios::trunc) << io::summary_json(done).dump(1);
  // progress.json is what status reads: a run.json that cannot be parsed does not matter.
  std::ofstream(root / "rot/live/run.json", std::ios::trunc) << "{\"schema_";

  auto lock = io::RunLock::try_acquire(root / "rot/live");
  ASSERT_TRUE(lock.has_value());
  const auto now = std::chrono::system_clock::from_time_t(*parse_utc_iso("2026-01-01T10:00:45Z"));
  const auto rows = collect_status(root, now);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].run, "cut");
  EXPECT_EQ(rows[0].status, "completed") << "run.json's outcome, not a killed run";
  const StatusRow& live = rows[1];
  EXPECT_EQ(live.status, "running");
  EXPECT_EQ(live.domain, 2);
  EXPECT_EQ(live.epoch, 1);
  EXPECT_EQ(live.num_domains, 3);
  EXPECT_EQ(live.epochs_per_domain, 2);
  ASSERT_TRUE(live.eta_seconds.has_value());
  EXPECT_DOUBLE_EQ(*live.eta_seconds, 30.0);  // 3 epochs left x 10 s
  ASSERT_TRUE(live.acc.has_value());
  EXPECT_NEAR(*live.acc, (0.7 + 0.3) / 2, 1e-12);
  fs::remove_all(root);
}

TEST(Status, AFailedRunWithNonFiniteNumbersIsShownAsFailed) {
  // A run that fails on a non-finite loss: NaN and infinity in every number field are written
  // as JSON null; status must read them (not call the run "unreadable").
  const fs::path root = fs::temp_directory_path() / ("moedil_status_nan_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  io::RunRecord r = make("failed", 2, "loss is not finite at domain 1 epoch 0");
  for (io::EpochRecord& e : r.epochs) {
    e.lr = inf;
    e.train_loss = nan;
    e.aux_loss = -inf;
    e.train_acc = nan;
    e.seconds = inf;
    e.eval_seconds = nan;
    e.samples_per_s = inf;
    e.balance_weight = nan;
    e.dropped_fraction["m"] = nan;
    e.routing_entropy["m"] = inf;
    e.dead_experts["m"] = 0;
    for (io::EvalRecord& v : e.eval) v.loss = nan;
  }
  r.epochs.back().eval[0].acc = nan;
  r.r_matrix = {{nan, inf, 0.1}};
  r.r_history = {{{inf, nan, 0.1}}};
  r.init_acc = {nan, inf, -inf};
  r.baseline_acc = std::vector<double>{nan, nan, inf};
  fs::create_directories(root / "rot/run1");
  std::ofstream(root / "rot/run1/run.json") << io::to_json(r).dump(1);
  const auto rows = collect_status(root);
  fs::remove_all(root);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].status, "failed") << rows[0].error;
  EXPECT_EQ(rows[0].error, "loss is not finite at domain 1 epoch 0");
  EXPECT_EQ(rows[0].domain, 1);
  EXPECT_EQ(rows[0].epoch, 2);
  ASSERT_TRUE(rows[0].acc.has_value());
  EXPECT_TRUE(std::isnan(*rows[0].acc));
  const std::string table = format_status(rows);
  EXPECT_NE(table.find("1 run: 1 failed"), std::string::npos) << table;
}

TEST(Status, StringsFromRunJsonCannotDriveTheTerminal) {
  const fs::path root = fs::temp_directory_path() / ("moedil_status_esc_" + std::to_string(::getpid()));
  fs::remove_all(root);
  io::RunRecord r = make("failed\x1b[2J", 1, "boom\x1b]0;title\x07\x1b[31mred\xc2\x9b" "1m");
  r.run.config_name = "cfg\x1b[1A";
  fs::create_directories(root / "rot/run1");
  std::ofstream(root / "rot/run1/run.json") << io::to_json(r).dump(1);
  const std::string table = format_status(collect_status(root));
  fs::remove_all(root);
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << table;
  EXPECT_EQ(table.find('\x07'), std::string::npos) << table;
  EXPECT_EQ(table.find("\xc2\x9b"), std::string::npos) << table;
  EXPECT_NE(table.find("boom\\x1b]0;title\\x07\\x1b[31mred\\u009b1m"), std::string::npos) << table;
  EXPECT_NE(table.find("cfg\\x1b[1A"), std::string::npos) << table;
  EXPECT_NE(table.find("1 failed\\x1b[2J"), std::string::npos) << table;
}

TEST(Status, ARunJsonSymlinkLoopIsUnreadableAndDirectoryLoopsEnd) {
  const fs::path root = fs::temp_directory_path() / ("moedil_status_loop_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "rot/good");
  std::ofstream(root / "rot/good/run.json") << io::to_json(make("completed", 6)).dump(1);
  fs::create_directories(root / "rot/loop");
  fs::create_symlink("run.json", root / "rot/loop/run.json");
  fs::create_directory_symlink("..", root / "rot/good/up");  // a directory cycle
  const auto rows = collect_status(root);
  fs::remove_all(root);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].status, "completed");
  EXPECT_EQ(rows[1].status, "unreadable");
  EXPECT_NE(rows[1].error.find("loop/run.json: is a symbolic-link loop"), std::string::npos)
      << rows[1].error;
}

TEST(Status, MissingOrEmptyDirectoryHasNoRows) {
  EXPECT_TRUE(collect_status("/nonexistent/moedil").empty());
  EXPECT_EQ(format_status({}).find("0 runs"), format_status({}).rfind("0 runs"));
}

TEST(Status, ParsesUtcIsoTimes) {
  EXPECT_DOUBLE_EQ(*parse_utc_iso("1970-01-01T00:01:00Z"), 60.0);
  EXPECT_FALSE(parse_utc_iso("").has_value());
  EXPECT_FALSE(parse_utc_iso("2026-01-01 10:00:00").has_value());
}

}  // namespace
}  // namespace moedil::batch
