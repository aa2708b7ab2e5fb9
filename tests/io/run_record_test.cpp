#include "moedil/io/run_record.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

TEST(RunRecord, RunningRecordHasNullsWhereNothingIsKnownYet) {
  RunRecord r;
  r.run.id = "vit_moe_x_20260101-000000_0001";
  r.domains = {"a", "b"};
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["schema_version"], kRunSchemaVersion);
  EXPECT_EQ(j["run"]["status"], "running");
  EXPECT_TRUE(j["run"]["finished"].is_null());
  EXPECT_TRUE(j["run"]["error"].is_null());
  EXPECT_TRUE(j["metrics"].is_null());
  EXPECT_TRUE(j["baseline_acc"].is_null());
  EXPECT_EQ(j["epochs"], nlohmann::json::array());
  EXPECT_EQ(j["domains"], nlohmann::json::array({"a", "b"}));
}

TEST(RunRecord, EpochsEvalAndMetricsAreSerialised) {
  RunRecord r;
  EpochRecord e;
  e.domain = 1;
  e.epoch = 2;
  e.train_loss = 0.5;
  e.expert_usage["blocks.1.moe"] = {3, 4};
  EvalRecord v;
  v.domain = "rot30";
  v.acc = 0.75;
  v.confusion = {{3, 1}, {0, 0}};
  e.eval.push_back(v);
  r.epochs.push_back(e);
  r.r_matrix = {{0.5, 0.25}, {0.4, 0.9}};
  r.init_acc = {0.1, 0.2};
  r.metrics = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, std::nullopt);
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["epochs"][0]["domain"], 1);
  EXPECT_EQ(j["epochs"][0]["epoch"], 2);
  EXPECT_EQ(j["epochs"][0]["expert_usage"]["blocks.1.moe"], nlohmann::json::array({3, 4}));
  EXPECT_EQ(j["epochs"][0]["usage_fraction"]["blocks.1.moe"],
            nlohmann::json::array({3.0 / 7.0, 4.0 / 7.0}));
  EXPECT_EQ(j["epochs"][0]["eval"][0]["domain"], "rot30");
  EXPECT_EQ(j["epochs"][0]["eval"][0]["confusion"][0][1], 1);
  EXPECT_DOUBLE_EQ(j["metrics"]["acc"].get<double>(), (0.4 + 0.9) / 2);
  EXPECT_DOUBLE_EQ(j["metrics"]["bwt"].get<double>(), 0.4 - 0.5);
  EXPECT_DOUBLE_EQ(j["metrics"]["fwt"].get<double>(), 0.25 - 0.2);
  EXPECT_TRUE(j["metrics"]["intransience"].is_null());
}

RunRecord full_record() {
  RunRecord r;
  r.run.id = "vit_moe_x_20260101-000000_0001";
  r.run.config_name = "quick";
  r.run.config = {{"batch_size", 32}};
  r.run.seeds = {{"global", 3}};
  r.run.status = "completed";
  r.run.finished = "2026-01-01T00:01:00Z";
  r.run.num_parameters = 1234;
  r.domains = {"a", "b"};
  EpochRecord e;
  e.domain = 1;
  e.epoch = 0;
  e.lr = 0.01;
  e.train_loss = 0.5;
  e.routers_frozen = true;
  e.replayed = 7;
  e.expert_usage["blocks.1.moe"] = {3, 4};
  e.dropped_fraction["blocks.1.moe"] = 0.125;
  e.eval.push_back({"a", 0.75, 0.3, {{3, 1}, {0, 2}}, {{"blocks.1.moe", {5, 1}}}});
  r.epochs.push_back(e);
  r.r_matrix = {{0.5, 0.25}, {0.4, 0.9}};
  r.r_history = {{{0.5, 0.25}, {0.4, 0.9}}};
  r.init_acc = {0.1, 0.2};
  r.baseline_acc = std::vector<double>{0.6, 0.7};
  r.metrics = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, r.baseline_acc);
  PretrainRecord p;
  p.num_samples = 20;
  p.class_counts = {10, 10};
  p.eval.push_back({"a", 0.5, 1.0, {{1, 1}, {1, 1}}, {}});
  r.pretrain = p;
  r.replay.push_back({0, 5, 9, {{0, 5}}, {{0, 2}, {1, 3}}});
  r.merges.push_back({1, 0, 100, "blocks.1.moe", 2, {0, 3}, {40, 10, 5, 45}});
  return r;
}

TEST(RunRecord, ReadingBackGivesTheSameJson) {
  const nlohmann::json j = to_json(full_record());
  const RunRecord back = run_record_from_json(j, "mem");
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.epochs.at(0).eval.at(0).confusion[1][1], 2);
  EXPECT_EQ(back.replay.at(0).by_class.at(1), 3);
  ASSERT_EQ(back.merges.size(), 1u);
  EXPECT_EQ(back.merges[0].sources, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(j["merges"][0]["step"], 100);
  // Files written before expert merging existed read back with no merges.
  nlohmann::json no_merges = j;
  no_merges.erase("merges");
  EXPECT_TRUE(run_record_from_json(no_merges, "old").merges.empty());
  EXPECT_EQ(j["epochs"][0]["dropped_fraction"]["blocks.1.moe"], 0.125);
  EXPECT_EQ(back.epochs.at(0).dropped_fraction.at("blocks.1.moe"), 0.125);
  // Files written before dropped_fraction existed read back with none.
  nlohmann::json old = j;
  old["epochs"][0].erase("dropped_fraction");
  EXPECT_TRUE(run_record_from_json(old, "old").epochs.at(0).dropped_fraction.empty());
  ASSERT_TRUE(back.metrics && back.metrics->intransience);
  EXPECT_DOUBLE_EQ(*back.metrics->intransience, ((0.6 - 0.5) + (0.7 - 0.9)) / 2);
  // A running record (nulls everywhere) reads back too.
  RunRecord running;
  running.domains = {"a"};
  EXPECT_EQ(to_json(run_record_from_json(to_json(running), "mem")), to_json(running));
}

TEST(RunRecord, ReadingRejectsUnknownSchemaAndMissingFieldsNamingThem) {
  nlohmann::json j = to_json(full_record());
  j["schema_version"] = 99;
  try {
    run_record_from_json(j, "x/run.json");
    FAIL() << "schema 99 accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("x/run.json: schema_version 99"), std::string::npos)
        << e.what();
  }
  j = to_json(full_record());
  j["epochs"][0].erase("lr");
  try {
    run_record_from_json(j, "x/run.json");
    FAIL() << "missing lr accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("x/run.json:.epochs[0].lr is missing"), std::string::npos)
        << e.what();
  }
  // Fields added to schema 1 later read as their defaults when an older run lacks them.
  j = to_json(full_record());
  j["epochs"][0].erase("balance_weight");
  j["epochs"][0].erase("replayed");
  j.erase("replay");
  j.erase("pretrain");
  const RunRecord older = run_record_from_json(j, "x");
  EXPECT_EQ(older.epochs.at(0).replayed, 0);
  EXPECT_TRUE(older.replay.empty());
  EXPECT_FALSE(older.pretrain.has_value());
  j = to_json(full_record());
  j["r_matrix"] = "oops";
  EXPECT_THROW(run_record_from_json(j, "x"), DataError);
  EXPECT_THROW(run_record_from_json(nlohmann::json::array(), "x"), DataError);
}

TEST(RunRecord, ReadingATruncatedFileNamesIt) {
  const auto dir = std::filesystem::temp_directory_path() / "moedil_run_record_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "run.json").string();
  const std::string text = to_json(full_record()).dump(2);
  std::ofstream(path) << text.substr(0, text.size() / 2);
  try {
    read_run_record(path);
    FAIL() << "truncated file accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::ofstream(path) << text;
  EXPECT_EQ(to_json(read_run_record(path)), to_json(full_record()));
  EXPECT_THROW(read_run_record((dir / "absent.json").string()), DataError);
  std::filesystem::remove_all(dir);
}

TEST(RunRecord, UtcNowIsIso8601) {
  EXPECT_TRUE(std::regex_match(utc_now_iso(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

}  // namespace
}  // namespace moedil::io
