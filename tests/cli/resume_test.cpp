// Kill and resume, as a user meets them: the real moedil binary is started, killed with SIGKILL
// at several points (or stopped with SIGTERM), resumed with `moedil run --resume`, and its final
// metrics compared with an uninterrupted run of the same config and seeds.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/io/run_record.h"

extern char** environ;

namespace moedil {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Every kind of state a checkpoint must carry: Adam moments, a cosine schedule over the whole
// stream, a reservoir replay memory, cumulative class weights, augmentation and dropout draws,
// and expert merging (selection counts per domain: every 7 of a domain's 45 steps, across
// epoch boundaries).
constexpr const char* kConfig = R"({
  "dataset": "synthetic", "mini_dataset": 960, "num_partitions": 3,
  "partition": {"type": "domainIncremental"}, "train_frac": 0.75, "batch_size": 16,
  "epochs_per_domain": 3, "num_threads": 1,
  "augmentation": {"random_crop_padding": 1, "horizontal_flip": true},
  "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
            "dropout": 0.1, "moe_layer_indices": [1], "moe_num_unshared_experts": 3,
            "moe_top_k": 2},
  "optimizer": {"name": "adam", "lr": 0.01},
  "scheduler": {"name": "cosine", "per_domain": false},
  "loss": {"name": "weighted_cross_entropy", "weight_cumulative": true},
  "replay": {"enabled": true, "capacity": 60, "policy": "reservoir", "ratio": 0.5},
  "expert_merging": {"enabled": true, "every_steps": 7},
  "seeds": {"global": 5}
})";

class ResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_resume_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "cfg.jsonc") << kConfig;
  }
  void TearDown() override { fs::remove_all(dir_); }

  pid_t spawn(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{MOEDIL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = (dir_ / "console.txt").string();
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw Error("cannot start " + std::string(MOEDIL_BINARY));
    return pid;
  }

  static int wait_exit(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
  }

  std::vector<std::string> run_args(const fs::path& run_dir) const {
    return {"run", (dir_ / "cfg.jsonc").string(), "--run-dir", run_dir.string(), "--set",
            "results_dir=\"" + (dir_ / "results").string() + "\"", "--set",
            "log_dir=\"" + (dir_ / "logs").string() + "\""};
  }

  /// Finished epochs in run_dir/run.json (-1 while it does not exist or cannot be read).
  static int64_t epochs_done(const fs::path& run_dir) {
    try {
      return static_cast<int64_t>(io::read_run_record((run_dir / "run.json").string()).epochs.size());
    } catch (const Error&) {
      return -1;
    }
  }

  /// Starts a run, waits until run.json shows `epochs` finished epochs plus `delay`, then
  /// sends `signal`; returns the exit code.
  int run_and_signal(const fs::path& run_dir, int64_t epochs, std::chrono::milliseconds delay,
                     int signal) {
    const pid_t pid = spawn(run_args(run_dir));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (epochs_done(run_dir) < epochs && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(delay);
    kill(pid, signal);
    return wait_exit(pid);
  }

  io::RunRecord resume(const fs::path& run_dir) {
    EXPECT_EQ(wait_exit(spawn({"run", "--resume", run_dir.string()})), 0)
        << "resume of " << run_dir << " failed; console:\n" << console();
    return io::read_run_record((run_dir / "run.json").string());
  }

  std::string console() const {
    std::ifstream in(dir_ / "console.txt");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  /// What must be identical: every accuracy of every epoch, losses, metrics.
  static json outcome(const io::RunRecord& r) {
    json j = io::to_json(r);
    json epochs = json::array();
    for (auto& e : j["epochs"]) {
      epochs.push_back({e["train_loss"], e["train_acc"], e["lr"], e["replayed"], e["eval"]});
    }
    return {{"epochs", epochs}, {"r_history", j["r_history"]}, {"metrics", j["metrics"]},
            {"init_acc", j["init_acc"]}, {"replay", j["replay"]}, {"merges", j["merges"]}};
  }

  fs::path dir_;
};

TEST_F(ResumeTest, SigkillAtAnyPointThenResumeGivesTheUninterruptedResults) {
  const fs::path reference_dir = dir_ / "runs" / "reference";
  ASSERT_EQ(wait_exit(spawn(run_args(reference_dir))), 0) << console();
  const io::RunRecord reference = io::read_run_record((reference_dir / "run.json").string());
  ASSERT_EQ(reference.run.status, "completed");
  ASSERT_EQ(reference.epochs.size(), 9u);
  ASSERT_EQ(reference.merges.size(), 18u) << "6 merges in each of the 3 domains";

  // (finished epochs seen, extra delay): before the first checkpoint, right after epoch
  // boundaries, and part way through later epochs.
  const std::vector<std::pair<int64_t, int>> kill_points{{0, 0}, {1, 0}, {3, 7}, {5, 3}, {8, 0}};
  for (const auto& [epochs, delay_ms] : kill_points) {
    SCOPED_TRACE("killed after " + std::to_string(epochs) + " epochs + " +
                 std::to_string(delay_ms) + " ms");
    const fs::path run_dir = dir_ / "runs" / ("kill" + std::to_string(epochs));
    const int code = run_and_signal(run_dir, epochs, std::chrono::milliseconds(delay_ms), SIGKILL);
    if (code == 0) {
      // The run outran the kill; it must still be right, but this point tested nothing.
      ADD_FAILURE() << "the run finished before SIGKILL; make the test config slower";
      continue;
    }
    EXPECT_EQ(code, 128 + SIGKILL);
    const io::RunRecord killed = io::read_run_record((run_dir / "run.json").string());
    EXPECT_EQ(killed.run.status, "running");  // nobody could write anything else
    EXPECT_LT(killed.epochs.size(), 9u);
    const io::RunRecord resumed = resume(run_dir);
    EXPECT_EQ(resumed.run.status, "completed");
    EXPECT_EQ(resumed.run.id, "kill" + std::to_string(epochs));
    EXPECT_EQ(resumed.run.started, killed.run.started);
    EXPECT_EQ(outcome(resumed), outcome(reference));
  }
}

TEST_F(ResumeTest, SigtermStopsWithExit143InterruptedAndResumes) {
  const fs::path reference_dir = dir_ / "runs" / "reference";
  ASSERT_EQ(wait_exit(spawn(run_args(reference_dir))), 0) << console();
  const io::RunRecord reference = io::read_run_record((reference_dir / "run.json").string());

  const fs::path run_dir = dir_ / "runs" / "term";
  EXPECT_EQ(run_and_signal(run_dir, 4, std::chrono::milliseconds(0), SIGTERM), 143) << console();
  const io::RunRecord stopped = io::read_run_record((run_dir / "run.json").string());
  EXPECT_EQ(stopped.run.status, "interrupted");
  EXPECT_NE(stopped.run.error.find("SIGTERM"), std::string::npos) << stopped.run.error;
  EXPECT_TRUE(fs::exists(run_dir / "checkpoint.pt"));
  const io::RunRecord resumed = resume(run_dir);
  EXPECT_EQ(resumed.run.status, "completed");
  EXPECT_TRUE(resumed.run.error.empty());
  EXPECT_EQ(outcome(resumed), outcome(reference));

  // Resuming a completed run changes nothing.
  const std::string before = io::to_json(resumed).dump();
  EXPECT_EQ(io::to_json(resume(run_dir)).dump(), before);
}

TEST_F(ResumeTest, RunDirThatHoldsARunIsRefusedAndResumeNeedsARun) {
  const fs::path run_dir = dir_ / "runs" / "one";
  ASSERT_EQ(wait_exit(spawn(run_args(run_dir))), 0) << console();
  EXPECT_EQ(wait_exit(spawn(run_args(run_dir))), 2);
  EXPECT_NE(console().find("already holds a run"), std::string::npos) << console();
  EXPECT_EQ(wait_exit(spawn({"run", "--resume", (dir_ / "nothing").string()})), 2);
  EXPECT_NE(console().find("holds no run.json"), std::string::npos) << console();
  EXPECT_EQ(wait_exit(spawn({"run", "--resume", run_dir.string(), "--set", "batch_size=3"})), 2);
}

}  // namespace
}  // namespace moedil
