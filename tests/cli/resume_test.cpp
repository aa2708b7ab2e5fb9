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

// Every kind of state a checkpoint must carry: AdamW moments and decoupled weight decay, a
// cosine schedule over the whole stream, a reservoir replay memory, cumulative class weights,
// augmentation and dropout draws, and expert merging (selection counts per domain: every 7 of
// a domain's 45 steps, across epoch boundaries). Top-1 of 4 experts: some experts get no rows
// in some steps, so the semantics of such a step must be the same with and without a resume.
constexpr const char* kConfig = R"({
  "dataset": "synthetic", "mini_dataset": 960, "num_partitions": 3,
  "partition": {"type": "domainIncremental"}, "train_frac": 0.75, "batch_size": 16,
  "epochs_per_domain": 3, "num_threads": 1,
  "augmentation": {"random_crop_padding": 1, "horizontal_flip": true},
  "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
            "dropout": 0.1, "moe_layer_indices": [1], "moe_num_unshared_experts": 4,
            "moe_top_k": 1},
  "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 0.05},
  "scheduler": {"name": "cosine", "per_domain": false},
  "loss": {"name": "weighted_cross_entropy", "weight_cumulative": true,
           "weight_counts": "all_domains"},
  "router_balancing": true, "router_balance_strength": 0.01,
  "replay": {"enabled": true, "capacity": 60, "policy": "reservoir", "mode": "separate"},
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

  // Killed before the first checkpoint, right after every epoch boundary, and part way
  // through every epoch (half an epoch of the reference run after its start).
  std::vector<std::pair<int64_t, std::chrono::milliseconds>> kill_points;
  for (int64_t e = 0; e < 9; ++e) {
    kill_points.emplace_back(e, std::chrono::milliseconds(0));
    const auto half = std::chrono::milliseconds(
        static_cast<int64_t>(reference.epochs[static_cast<std::size_t>(e)].seconds * 500.0));
    kill_points.emplace_back(e, half);
  }
  int64_t interrupted = 0;
  for (const auto& [epochs, delay] : kill_points) {
    SCOPED_TRACE("killed after " + std::to_string(epochs) + " epochs + " +
                 std::to_string(delay.count()) + " ms");
    const std::string id = "kill" + std::to_string(epochs) + "_" + std::to_string(delay.count());
    const fs::path run_dir = dir_ / "runs" / id;
    const int code = run_and_signal(run_dir, epochs, delay, SIGKILL);
    if (code == 0) continue;  // the run outran the kill: this point tested nothing
    ++interrupted;
    EXPECT_EQ(code, 128 + SIGKILL);
    const io::RunRecord killed = io::read_run_record((run_dir / "run.json").string());
    EXPECT_EQ(killed.run.status, "running");  // nobody could write anything else
    EXPECT_LT(killed.epochs.size(), 9u);
    const io::RunRecord resumed = resume(run_dir);
    EXPECT_EQ(resumed.run.status, "completed");
    EXPECT_EQ(resumed.run.id, id);
    EXPECT_EQ(resumed.run.started, killed.run.started);
    EXPECT_EQ(outcome(resumed), outcome(reference));
    fs::remove_all(run_dir);
  }
  // The last epoch's kill may come too late; nearly every point must have interrupted a run.
  EXPECT_GE(interrupted, 15) << "the runs finished before SIGKILL; make the test config slower";
}

// Flipped bytes in a checkpoint's tensor data are found by its checksum: resume and eval
// refuse the file, naming it (exit 2), instead of continuing with other numbers.
TEST_F(ResumeTest, CorruptedCheckpointIsRefusedByResumeAndEval) {
  const fs::path run_dir = dir_ / "runs" / "corrupt";
  ASSERT_EQ(run_and_signal(run_dir, 4, std::chrono::milliseconds(0), SIGKILL), 128 + SIGKILL)
      << console();
  const fs::path checkpoint = run_dir / "checkpoint.pt";
  std::string bytes;
  {
    std::ifstream in(checkpoint, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 4096u);
  // A byte well inside the archive (tensor data makes up most of it).
  const std::size_t at = bytes.size() * 2 / 3;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  std::ofstream(checkpoint, std::ios::binary | std::ios::trunc) << bytes;
  const std::string before = console();
  EXPECT_EQ(wait_exit(spawn({"run", "--resume", run_dir.string()})), 2);
  std::string said = console().substr(before.size());
  EXPECT_NE(said.find(checkpoint.string() + ": damaged (CRC-32"), std::string::npos) << said;
  const std::size_t mark = console().size();
  EXPECT_EQ(wait_exit(spawn({"eval", run_dir.string()})), 2);
  said = console().substr(mark);
  EXPECT_NE(said.find(checkpoint.string() + ": damaged (CRC-32"), std::string::npos) << said;
}

// A SIGKILL during a checkpoint rewrite leaves a full-size temp file; the resume removes it.
TEST_F(ResumeTest, ResumeRemovesTempFilesOfAKilledWriter) {
  const fs::path run_dir = dir_ / "runs" / "stale";
  ASSERT_EQ(run_and_signal(run_dir, 2, std::chrono::milliseconds(0), SIGKILL), 128 + SIGKILL)
      << console();
  const fs::path stale = run_dir / ".checkpoint.pt.tmp-4242-0badc0de";
  fs::copy_file(run_dir / "checkpoint.pt", stale);
  const io::RunRecord resumed = resume(run_dir);
  EXPECT_EQ(resumed.run.status, "completed");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_NE(console().find("removed " + stale.string()), std::string::npos) << console();
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
