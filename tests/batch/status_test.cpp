#include "moedil/batch/status.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "moedil/io/run_lock.h"
#include "moedil/io/run_record.h"

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
