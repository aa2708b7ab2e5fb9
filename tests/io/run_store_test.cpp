#include "moedil/io/run_store.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/io/atomic_file.h"

namespace moedil::io {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_run_store_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A record of 2 domains ("plain" and "a,b": a name CSV must quote) trained 2 epochs each,
  /// `classes` classes, with pretraining; no epoch yet.
  static RunRecord start_record(int classes) {
    RunRecord r;
    r.run.id = "run_1";
    r.run.config_name = "c.jsonc";
    r.run.config = {{"epochs_per_domain", 2}};
    r.run.started = "2026-12-03T10:00:00Z";
    r.domains = {"plain", "a,b"};
    r.init_acc = {0.1, 0.2};
    r.r_history.assign(2, {});
    PretrainRecord p;
    p.num_samples = 8;
    p.epochs = 1;
    for (int j = 0; j < 2; ++j) {
      EvalRecord v;
      v.domain = r.domains[static_cast<std::size_t>(j)];
      v.acc = 0.5;
      v.confusion.assign(static_cast<std::size_t>(classes),
                         std::vector<int64_t>(static_cast<std::size_t>(classes), 7 + j));
      p.eval.push_back(v);
    }
    r.pretrain = p;
    return r;
  }

  /// Global epoch k (domain k / 2, epoch k % 2) appended to `r` as the trainer does.
  static void add_epoch(RunRecord& r, int k, int classes) {
    EpochRecord e;
    e.domain = k / 2;
    e.epoch = k % 2;
    e.lr = 0.01 * (k + 1);
    e.train_loss = 1.0 / (k + 1);
    e.train_acc = 0.25;
    e.seconds = 2.0;
    e.eval_seconds = 0.5;
    e.expert_usage["blocks.1.moe"] = {k, 2 * k};
    std::vector<double> row;
    for (int j = 0; j < 2; ++j) {
      EvalRecord v;
      v.domain = r.domains[static_cast<std::size_t>(j)];
      v.acc = 0.1 * k + 0.01 * j;
      v.loss = 2.0 - 0.1 * k;
      v.confusion.assign(static_cast<std::size_t>(classes),
                         std::vector<int64_t>(static_cast<std::size_t>(classes), 0));
      v.confusion[0][static_cast<std::size_t>(j)] = 100 * k + j;
      v.expert_usage["blocks.1.moe"] = {j, k};
      row.push_back(v.acc);
      e.eval.push_back(v);
    }
    r.r_history[static_cast<std::size_t>(e.epoch)].push_back(row);
    if (e.epoch == 1) r.r_matrix.push_back(row);
    r.epochs.push_back(e);
  }

  fs::path dir_;
};

TEST_F(RunStoreTest, EpochsGoToTheFilesAndReadBackWhole) {
  const RunStore store(dir_);
  RunRecord r = start_record(3);
  store.start_fresh();
  store.append_pretrain(r);
  store.write_summary(r);
  RunRecord whole = r;
  whole.pretrain = start_record(3).pretrain;  // append_pretrain dropped its matrices
  EXPECT_TRUE(r.pretrain->eval[0].confusion.empty());
  for (int k = 0; k < 4; ++k) {
    add_epoch(r, k, 3);
    add_epoch(whole, k, 3);
    store.append_last_epoch(r);
    store.write_summary(r);
    EXPECT_TRUE(r.epochs.back().eval[1].confusion.empty()) << "dropped from memory";
  }
  const json run_json = json::parse(slurp(dir_ / "run.json"));
  EXPECT_FALSE(run_json.contains("epochs"));
  EXPECT_EQ(run_json["epochs_done"], 4);
  EXPECT_FALSE(run_json["pretrain"]["eval"][0].contains("confusion"));
  EXPECT_EQ(lines(dir_ / "epochs.jsonl").size(), 4u);
  EXPECT_EQ(lines(dir_ / "confusion.jsonl").size(), 2u + 4u * 2u);

  const RunRecord back = read_run_record((dir_ / "run.json").string());
  EXPECT_EQ(to_json(back), to_json(whole));
  const RunRecord no_matrices =
      read_run_record((dir_ / "run.json").string(), RecordParts::epochs);
  ASSERT_EQ(no_matrices.epochs.size(), 4u);
  EXPECT_TRUE(no_matrices.epochs[3].eval[0].confusion.empty());
  EXPECT_DOUBLE_EQ(no_matrices.epochs[3].eval[1].acc, 0.31);
  EXPECT_TRUE(read_run_record((dir_ / "run.json").string(), RecordParts::summary).epochs.empty());

  // A confusion line as Python's json module would read it.
  const json line = json::parse(lines(dir_ / "confusion.jsonl")[2 + 2 * 3 + 1]);
  EXPECT_EQ(line["stage"], "train");
  EXPECT_EQ(line["global_epoch"], 3);
  EXPECT_EQ(line["trained_domain"], 1);
  EXPECT_EQ(line["epoch"], 1);
  EXPECT_EQ(line["eval_domain"], 1);
  EXPECT_EQ(line["domain"], "a,b");
  EXPECT_EQ(line["confusion"][0][1], 301);
}

TEST_F(RunStoreTest, MetricsCsvHasOneRowPerEpochAndEvaluatedDomain) {
  const RunStore store(dir_);
  RunRecord r = start_record(2);
  store.start_fresh();
  for (int k = 0; k < 2; ++k) {
    add_epoch(r, k, 2);
    store.append_last_epoch(r);
  }
  const std::vector<std::string> rows = lines(dir_ / "metrics.csv");
  ASSERT_EQ(rows.size(), 1u + 2u * 2u);
  EXPECT_EQ(rows[0], kMetricsColumns);
  // global_epoch 1 (domain 0, epoch 1), evaluated on domain 1, whose name holds a comma.
  EXPECT_EQ(rows[4], "1,0,plain,1,1,\"a,b\",0.11,1.9,0.5,0.25,0,0.02,2,0.5,0,0,0,0");
}

TEST_F(RunStoreTest, RunJsonDoesNotGrowWithTheClasses) {
  std::vector<std::uintmax_t> sizes;
  for (const int classes : {2, 100}) {
    const fs::path sub = dir_ / std::to_string(classes);
    fs::create_directories(sub);
    const RunStore store(sub);
    RunRecord r = start_record(classes);
    store.start_fresh();
    store.append_pretrain(r);
    for (int k = 0; k < 4; ++k) {
      add_epoch(r, k, classes);
      store.append_last_epoch(r);
      store.write_summary(r);
    }
    sizes.push_back(fs::file_size(sub / "run.json"));
    EXPECT_GT(fs::file_size(sub / "confusion.jsonl"), classes == 100 ? 100u * 100u * 10u : 0u);
  }
  EXPECT_EQ(sizes[0], sizes[1]);
}

TEST_F(RunStoreTest, ResumeCutsTheFilesBackToTheCheckpointsEpochs) {
  const RunStore store(dir_);
  RunRecord r = start_record(2);
  store.start_fresh();
  store.append_pretrain(r);
  json checkpoint;
  for (int k = 0; k < 3; ++k) {
    add_epoch(r, k, 2);
    store.append_last_epoch(r);
    store.write_summary(r);
    if (k == 1) checkpoint = summary_json(r);  // the checkpoint of epoch 2 of 3
  }
  // The process died while appending a 4th epoch: a line without its newline.
  {
    std::ofstream(dir_ / "epochs.jsonl", std::ios::app) << "{\"domain\": 1, \"epo";
  }
  RunRecord resumed = run_record_from_json(checkpoint, "checkpoint");
  ASSERT_TRUE(resumed.epochs.empty());
  store.restore(resumed);
  ASSERT_EQ(resumed.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(resumed.epochs[1].lr, 0.02);
  EXPECT_EQ(lines(dir_ / "epochs.jsonl").size(), 2u);
  EXPECT_EQ(lines(dir_ / "metrics.csv").size(), 1u + 2u * 2u);
  const std::vector<std::string> confusion = lines(dir_ / "confusion.jsonl");
  ASSERT_EQ(confusion.size(), 2u + 2u * 2u);
  EXPECT_EQ(json::parse(confusion.back())["global_epoch"], 1);
  EXPECT_EQ(slurp(dir_ / "epochs.jsonl").back(), '\n');

  // Training goes on from there: the third epoch again, then the fourth.
  for (int k = 2; k < 4; ++k) {
    add_epoch(resumed, k, 2);
    store.append_last_epoch(resumed);
    store.write_summary(resumed);
  }
  RunRecord straight = start_record(2);
  for (int k = 0; k < 4; ++k) add_epoch(straight, k, 2);
  EXPECT_EQ(to_json(read_run_record((dir_ / "run.json").string())), to_json(straight));
}

TEST_F(RunStoreTest, ResumeRefusesFilesThatLostEpochs) {
  const RunStore store(dir_);
  RunRecord r = start_record(2);
  store.start_fresh();
  add_epoch(r, 0, 2);
  store.append_last_epoch(r);
  add_epoch(r, 1, 2);
  const json checkpoint = summary_json(r);  // counts 2 epochs; the files hold 1
  RunRecord resumed = run_record_from_json(checkpoint, "checkpoint");
  try {
    store.restore(resumed);
    FAIL() << "restored from files that lost an epoch";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("epochs.jsonl holds 1 epochs but the checkpoint counts 2"),
              std::string::npos)
        << e.what();
  }
  store.write_summary(r);
  EXPECT_THROW(read_run_record((dir_ / "run.json").string()), DataError);
}

TEST_F(RunStoreTest, ACheckpointFromBeforeSchema7WritesTheFilesFromItsEpochs) {
  const RunStore store(dir_);
  RunRecord r = start_record(2);
  for (int k = 0; k < 2; ++k) add_epoch(r, k, 2);
  // Such a checkpoint holds the whole record, matrices included.
  RunRecord resumed = run_record_from_json(to_json(r), "checkpoint");
  ASSERT_EQ(resumed.epochs.size(), 2u);
  store.restore(resumed);
  store.write_summary(resumed);
  EXPECT_EQ(lines(dir_ / "epochs.jsonl").size(), 2u);
  EXPECT_EQ(to_json(read_run_record((dir_ / "run.json").string())), to_json(r));
}

TEST_F(RunStoreTest, AnOlderRunJsonWithItsEpochsInlineIsStillRead) {
  RunRecord r = start_record(2);
  for (int k = 0; k < 2; ++k) add_epoch(r, k, 2);
  json old = to_json(r);
  old["schema_version"] = 6;
  old.erase("epochs_done");
  write_file_atomic(dir_ / "run.json", old.dump());
  const RunRecord back = read_run_record((dir_ / "run.json").string());
  ASSERT_EQ(back.epochs.size(), 2u);
  EXPECT_EQ(back.epochs[1].eval[0].confusion, r.epochs[1].eval[0].confusion);
  EXPECT_FALSE(read_progress(dir_).has_value()) << "no progress.json: status reads run.json";
}

TEST_F(RunStoreTest, ProgressSaysWhereTheRunIs) {
  const RunStore store(dir_);
  RunRecord r = start_record(2);
  store.start_fresh();
  for (int k = 0; k < 3; ++k) {
    add_epoch(r, k, 2);
    store.append_last_epoch(r);
  }
  store.write_summary(r);
  EXPECT_LT(fs::file_size(dir_ / "progress.json"), 1024u);
  const std::optional<Progress> p = read_progress(dir_);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->id, "run_1");
  EXPECT_EQ(p->status, "running");
  EXPECT_EQ(p->num_domains, 2);
  EXPECT_EQ(p->epochs_per_domain, 2);
  EXPECT_EQ(p->epochs_done, 3);
  EXPECT_EQ(p->domain, 1);
  EXPECT_EQ(p->epoch, 0);
  ASSERT_TRUE(p->acc.has_value());
  EXPECT_DOUBLE_EQ(*p->acc, (0.2 + 0.21) / 2);
  EXPECT_FALSE(p->final_acc.has_value());
  EXPECT_DOUBLE_EQ(p->mean_epoch_seconds, 2.5);

  write_file_atomic(dir_ / "progress.json", "{\"id\": 3}");
  EXPECT_THROW(read_progress(dir_), DataError);
}

}  // namespace
}  // namespace moedil::io
