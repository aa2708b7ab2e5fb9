#include "moedil/io/run_record.h"

#include <gtest/gtest.h>

#include <regex>

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
  EXPECT_EQ(j["epochs"][0]["eval"][0]["domain"], "rot30");
  EXPECT_EQ(j["epochs"][0]["eval"][0]["confusion"][0][1], 1);
  EXPECT_DOUBLE_EQ(j["metrics"]["acc"].get<double>(), (0.4 + 0.9) / 2);
  EXPECT_DOUBLE_EQ(j["metrics"]["bwt"].get<double>(), 0.4 - 0.5);
  EXPECT_DOUBLE_EQ(j["metrics"]["fwt"].get<double>(), 0.25 - 0.2);
  EXPECT_TRUE(j["metrics"]["intransience"].is_null());
}

TEST(RunRecord, UtcNowIsIso8601) {
  EXPECT_TRUE(std::regex_match(utc_now_iso(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

}  // namespace
}  // namespace moedil::io
