#include "moedil/io/run_record.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
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
  p.lr = {0.001, 0.0055};
  p.routers_frozen = {false, true};
  r.pretrain = p;
  r.replay.push_back({0, 5, 9, {{0, 5}}, {{0, 2}, {1, 3}}});
  r.merges.push_back({1, 0, 100, "blocks.1.moe", 2, {0, 3}, {40, 10, 5, 45}});
  return r;
}

/// `j` as a file would hold it, read back.
RunRecord read_back(const nlohmann::json& j) {
  return run_record_from_json(nlohmann::json::parse(j.dump()), "mem");
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

// A version-1 run.json (before some keys took the predecessor's meaning) reads with its config
// converted to what it meant then, so resuming, evaluating or reporting it runs the same
// experiment; a version-2 config reads as written.
TEST(RunRecord, AVersion1ConfigIsReadWithTheMeaningItHadThen) {
  nlohmann::json j = to_json(full_record());
  ASSERT_EQ(j["schema_version"], 7);
  const nlohmann::json config = nlohmann::json::parse(R"({
      "router_freeze_after_epochs": 3, "optimizer": {"weight_decay": 0.01},
      "model": {"name": "vit_moe_centroid", "alpha_fast": 0.25, "alpha_slow": 0.5,
                "routing_alpha": 0.125}})");
  j["run"]["config"] = config;
  EXPECT_EQ(run_record_from_json(j, "v4").run.config, config);
  j["schema_version"] = 1;
  j["run"]["config"]["model"]["name"] = "vit_moe_imagelevel";
  const nlohmann::json read = run_record_from_json(j, "v1").run.config;
  EXPECT_EQ(read["model"]["name"], "vit_moe_centroid");
  EXPECT_TRUE(read["router_freeze_after_epochs"].is_null());
  EXPECT_EQ(read["router_freeze_per_domain_after_epochs"], 3);
  EXPECT_EQ(read["model"]["alpha_fast"], 0.75);
  EXPECT_EQ(read["model"]["alpha_slow"], 0.5);
  EXPECT_EQ(read["model"]["ema_alpha"], 0.875);
  EXPECT_TRUE(read["model"]["routing_alpha"].is_null());
  EXPECT_EQ(read["optimizer"]["weight_decay"], 0.01);
  // Version 1's 0 meant "never": no freezing at all now either.
  const nlohmann::json never =
      config_from_older_schema(nlohmann::json::parse(R"({"router_freeze_after_epochs": 0})"), 1);
  EXPECT_TRUE(never["router_freeze_after_epochs"].is_null());
  EXPECT_FALSE(never.contains("router_freeze_per_domain_after_epochs"));
  // Balance annealing was linear within each domain; without it, the strength counted.
  const nlohmann::json anneal = config_from_older_schema(nlohmann::json::parse(
      R"({"router_balance_anneal_epochs": 2, "router_balance_max": 0.2})"), 1);
  EXPECT_EQ(anneal["router_balance_schedule"], "linear_per_domain");
  EXPECT_EQ(anneal["router_balance_max"], 0.2);
  const nlohmann::json fixed = config_from_older_schema(nlohmann::json::parse(
      R"({"router_balance_anneal_epochs": 0, "router_balance_max": 0.1})"), 1);
  EXPECT_TRUE(fixed["router_balance_max"].is_null());
  EXPECT_FALSE(fixed.contains("router_balance_schedule"));
  // Absent keys stay absent.
  EXPECT_EQ(
      config_from_older_schema(nlohmann::json::parse(R"({"model": {"name": "resnet18"}})"), 1),
      nlohmann::json::parse(R"({"model": {"name": "resnet18"}})"));
}

// Until version 5, pretraining drew class-balanced from the domains' training splits; since
// version 6 a pretrain block without draw is the predecessor's uniform draw from the dataset.
TEST(RunRecord, OlderSchemasKeepTheirClassBalancedPretraining) {
  nlohmann::json j = to_json(full_record());
  j["run"]["config"] = nlohmann::json::parse(R"({"pretrain": {"enabled": true}})");
  EXPECT_FALSE(run_record_from_json(j, "v6").run.config["pretrain"].contains("draw"));
  for (int version : {1, 4, 5}) {
    j["schema_version"] = version;
    EXPECT_EQ(run_record_from_json(j, "old").run.config["pretrain"]["draw"], "class_balanced")
        << version;
  }
  const nlohmann::json given = config_from_older_schema(
      nlohmann::json::parse(R"({"pretrain": {"draw": "dataset"}})"), 5);
  EXPECT_EQ(given["pretrain"]["draw"], "dataset");
  EXPECT_FALSE(config_from_older_schema(nlohmann::json::object(), 5).contains("pretrain"));
  // vit's LayerNorms had LibTorch's eps then; the MoE ViTs keep it by default.
  const nlohmann::json vit =
      config_from_older_schema(nlohmann::json::parse(R"({"model": {"name": "vit"}})"), 5);
  EXPECT_EQ(vit["model"]["layer_norm_eps"], 1e-5);
  EXPECT_FALSE(config_from_older_schema(nlohmann::json::parse(R"({"model": {"name": "vit_moe"}})"),
                                        5)["model"]
                   .contains("layer_norm_eps"));
}

// Versions 1 and 2 took a seed of 0 as the seed 0; since version 3 a 0 is unseeded unless
// seeds.zero_is_a_seed says otherwise, so an older run's seeds read as the seeds they were.
TEST(RunRecord, OlderSchemasKeepTheirZeroSeeds) {
  nlohmann::json j = to_json(full_record());
  const nlohmann::json config = nlohmann::json::parse(
      R"({"seeds": {"global": 0, "model": 4}, "model": {"name": "vit_moe_centroid",
          "alpha_fast": 0.25}})");
  j["run"]["config"] = config;
  EXPECT_EQ(run_record_from_json(j, "v4").run.config, config);
  for (int version : {1, 2}) {
    j["schema_version"] = version;
    const nlohmann::json read = run_record_from_json(j, "old").run.config;
    EXPECT_EQ(read["seeds"], nlohmann::json::parse(
                                 R"({"global": 0, "model": 4, "zero_is_a_seed": true})"))
        << version;
    // Only version 1 had the alpha rates inverted.
    EXPECT_EQ(read["model"]["alpha_fast"], version == 1 ? 0.75 : 0.25) << version;
  }
  EXPECT_FALSE(config_from_older_schema(nlohmann::json::object(), 2).contains("seeds"));
}

// Until version 4, vit_moe routed per image by default with Switch gates and the switch
// balance loss, and moe_route_with_cls_token chose the sample routing input: an older run reads
// as that experiment.
TEST(RunRecord, OlderSchemasKeepTheirVitMoeRouting) {
  const nlohmann::json old = nlohmann::json::parse(
      R"({"model": {"name": "vit_moe", "moe_route_with_cls_token": false}})");
  const nlohmann::json read = config_from_older_schema(old, 3);
  EXPECT_EQ(read["model"]["moe_routing_granularity"], "sample");
  EXPECT_EQ(read["model"]["moe_gate"], "probability");
  EXPECT_EQ(read["model"]["moe_route_on"], "mean");
  EXPECT_FALSE(read["model"].contains("moe_route_with_cls_token")) << "it had a CLS token";
  EXPECT_EQ(read["model"]["moe_balance_losses"], nlohmann::json::parse(R"({"switch": 1.0})"));
  // What was given stays.
  const nlohmann::json given = config_from_older_schema(nlohmann::json::parse(
      R"({"model": {"name": "vit_moe", "moe_routing_granularity": "token",
                    "moe_balance_losses": {"entropy": 0.5}}})"), 2);
  EXPECT_EQ(given["model"]["moe_routing_granularity"], "token");
  EXPECT_EQ(given["model"]["moe_balance_losses"], nlohmann::json::parse(R"({"entropy": 0.5})"));
  // hetero_moe: its routing input; resnet MoE: the balance loss; vit: nothing.
  const nlohmann::json hetero = config_from_older_schema(nlohmann::json::parse(
      R"({"model": {"name": "hetero_moe", "moe_route_with_cls_token": true}})"), 1);
  EXPECT_EQ(hetero["model"]["moe_route_on"], "cls");
  EXPECT_FALSE(hetero["model"].contains("moe_gate"));
  EXPECT_EQ(config_from_older_schema(nlohmann::json::parse(
                R"({"model": {"name": "resnet18_conv_moe"}})"), 3)["model"]["moe_balance_losses"],
            nlohmann::json::parse(R"({"switch": 1.0})"));
  EXPECT_EQ(
      config_from_older_schema(nlohmann::json::parse(R"({"model": {"name": "resnet18"}})"), 3),
      nlohmann::json::parse(R"({"model": {"name": "resnet18"}})"));
}

// Until version 4, vit_moe_imagelevel was moedil's own centroid model (now vit_moe_centroid):
// an older run reads as that model, so resuming or evaluating it builds what it trained.
TEST(RunRecord, OlderSchemasImageLevelIsTheCentroidModel) {
  const nlohmann::json old = nlohmann::json::parse(
      R"({"seeds": {"global": 3}, "model": {"name": "vit_moe_imagelevel",
          "temperature_start": 2.0}})");
  for (int version : {1, 2, 3}) {
    const nlohmann::json read = config_from_older_schema(old, version);
    EXPECT_EQ(read["model"]["name"], "vit_moe_centroid") << version;
    EXPECT_EQ(read["model"]["temperature_start"], 2.0) << version;
  }
  EXPECT_EQ(config_from_older_schema(old, 4), old);
  EXPECT_EQ(config_from_older_schema(old, 5), old);
  EXPECT_EQ(config_from_older_schema(old, 3)["seeds"], old["seeds"]) << "no zero_is_a_seed";
}

// Until version 5, loss.weight_cumulative counted every domain so far (now weight_counts
// "all_domains"; weight_cumulative averages the weights, the predecessor's meaning).
TEST(RunRecord, OlderSchemasWeightCumulativeCountedEveryDomain) {
  const nlohmann::json old = nlohmann::json::parse(
      R"({"loss": {"name": "weighted_cross_entropy", "weight_cumulative": true}})");
  for (int version : {1, 3, 4}) {
    const nlohmann::json read = config_from_older_schema(old, version);
    EXPECT_EQ(read["loss"]["weight_counts"], "all_domains") << version;
    EXPECT_EQ(read["loss"]["weight_cumulative"], false) << version;
  }
  // Its random partitioning is random_assignment now ("random" is the predecessor's static).
  const nlohmann::json random = nlohmann::json::parse(R"({"partition": {"type": "random"}})");
  EXPECT_EQ(config_from_older_schema(random, 4)["partition"]["type"], "random_assignment");
  EXPECT_EQ(config_from_older_schema(random, 5), random);
  const nlohmann::json off = nlohmann::json::parse(R"({"loss": {"weight_cumulative": false}})");
  EXPECT_EQ(config_from_older_schema(off, 4)["loss"]["weight_counts"], "domain");
  EXPECT_EQ(config_from_older_schema(old, 5), old);
  // Schema 4 already had the predecessor's image-level model and vit_moe routing.
  const nlohmann::json model = nlohmann::json::parse(
      R"({"model": {"name": "vit_moe_imagelevel"}, "seeds": {"global": 0}})");
  EXPECT_EQ(config_from_older_schema(model, 4), model);
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
  // Schema 3 added the pretraining LR and frozen flags per epoch.
  j = to_json(full_record());
  j["pretrain"].erase("lr");
  j["pretrain"].erase("routers_frozen");
  const RunRecord v2 = run_record_from_json(j, "x");
  EXPECT_TRUE(v2.pretrain->lr.empty());
  EXPECT_TRUE(v2.pretrain->routers_frozen.empty());
  EXPECT_EQ(to_json(full_record())["pretrain"]["routers_frozen"], nlohmann::json::parse("[false, true]"));
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

TEST(RunRecord, FwtIsGemsAndFwtBaselineIsWrittenWhenBaselinesRan) {
  // R = [[0.5, 0.25], [0.4, 0.9]], init = [0.1, 0.2], baseline = [0.6, 0.7]:
  //   fwt (GEM) = R[0][1] - init[1] = 0.25 - 0.2 = 0.05
  //   fwt_baseline = R[0][1] - baseline[1] = 0.25 - 0.7 = -0.45
  const nlohmann::json j = to_json(full_record());
  EXPECT_DOUBLE_EQ(j["metrics"]["fwt"].get<double>(), 0.25 - 0.2);
  EXPECT_DOUBLE_EQ(j["metrics"]["fwt_baseline"].get<double>(), 0.25 - 0.7);
  const RunRecord back = read_back(j);
  ASSERT_TRUE(back.metrics && back.metrics->fwt && back.metrics->fwt_baseline);
  EXPECT_DOUBLE_EQ(*back.metrics->fwt, 0.25 - 0.2);
  EXPECT_DOUBLE_EQ(*back.metrics->fwt_baseline, 0.25 - 0.7);
  // Without baselines fwt_baseline is null and reads back as absent.
  RunRecord plain = full_record();
  plain.baseline_acc.reset();
  plain.metrics = metrics::compute_cl_metrics(plain.r_matrix, plain.init_acc, std::nullopt);
  EXPECT_TRUE(to_json(plain)["metrics"]["fwt_baseline"].is_null());
  EXPECT_FALSE(read_back(to_json(plain)).metrics->fwt_baseline);
  EXPECT_EQ(to_json(read_back(to_json(plain))), to_json(plain));

  // A run.json written before fwt_baseline existed stored the baseline-relative number as
  // "fwt" when baselines ran: it reads back as fwt_baseline, and fwt is GEM's again.
  nlohmann::json old = j;
  old["metrics"].erase("fwt_baseline");
  old["metrics"]["fwt"] = 0.25 - 0.7;
  const RunRecord old_back = run_record_from_json(old, "old");
  ASSERT_TRUE(old_back.metrics->fwt && old_back.metrics->fwt_baseline);
  EXPECT_DOUBLE_EQ(*old_back.metrics->fwt_baseline, 0.25 - 0.7);
  EXPECT_DOUBLE_EQ(*old_back.metrics->fwt, 0.25 - 0.2);
  // ... and without baselines its fwt already was GEM's.
  nlohmann::json old_plain = to_json(plain);
  old_plain["metrics"].erase("fwt_baseline");
  const RunRecord old_plain_back = run_record_from_json(old_plain, "old");
  EXPECT_DOUBLE_EQ(*old_plain_back.metrics->fwt, 0.25 - 0.2);
  EXPECT_FALSE(old_plain_back.metrics->fwt_baseline);
}

TEST(RunRecord, NonFiniteNumbersAreWrittenAsNullAndReadBackAsNaN) {
  // JSON has no NaN or infinity: the writer stores them as null (a run that fails on a
  // non-finite loss does), and every reader must accept what the writer wrote.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  RunRecord r = full_record();
  r.run.status = "failed";
  r.run.error = "loss is not finite";
  EpochRecord& e = r.epochs.at(0);
  e.lr = inf;
  e.train_loss = nan;
  e.aux_loss = -inf;
  e.train_acc = nan;
  e.seconds = inf;
  e.eval_seconds = nan;
  e.samples_per_s = inf;
  e.balance_weight = nan;
  e.dropped_fraction["blocks.1.moe"] = nan;
  e.routing_entropy["blocks.1.moe"] = inf;
  e.dead_experts["blocks.1.moe"] = 0;
  e.eval.at(0).acc = nan;
  e.eval.at(0).loss = inf;
  r.r_matrix = {{nan, inf}, {-inf, 0.5}};
  r.r_history = {{{inf, nan}}, {{nan, inf}, {-inf, 0.5}}};
  r.init_acc = {nan, inf};
  r.baseline_acc = std::vector<double>{-inf, nan};
  metrics::ClMetrics m;
  m.acc = nan;
  m.aia = inf;
  m.plasticity = -inf;
  m.bwt = nan;
  m.fwt = inf;
  m.fwt_baseline = nan;
  m.forgetting = -inf;
  m.forgetting_per_domain = {nan};
  m.intransience = inf;
  r.metrics = m;
  r.pretrain->train_loss = nan;
  r.pretrain->train_acc = inf;
  r.pretrain->seconds = nan;
  r.pretrain->eval.at(0).acc = inf;
  r.pretrain->eval.at(0).loss = nan;

  const auto dir = std::filesystem::temp_directory_path() / "moedil_run_record_nan_test";
  std::filesystem::create_directories(dir);
  const auto path = (dir / "run.json").string();
  const std::string text = to_json(r).dump(2);
  EXPECT_EQ(text.find("NaN"), std::string::npos);  // valid JSON: nulls, no NaN literals
  std::ofstream(path) << text;
  RunRecord back;
  ASSERT_NO_THROW(back = read_run_record(path));
  std::filesystem::remove_all(dir);

  const EpochRecord& b = back.epochs.at(0);
  for (double v : {b.lr, b.train_loss, b.aux_loss, b.train_acc, b.seconds, b.eval_seconds,
                   b.samples_per_s, b.balance_weight, b.dropped_fraction.at("blocks.1.moe"),
                   b.routing_entropy.at("blocks.1.moe"), b.eval.at(0).acc, b.eval.at(0).loss,
                   back.r_matrix[0][0], back.r_matrix[0][1], back.r_matrix[1][0],
                   back.r_history[0][0][0], back.r_history[1][1][0], back.init_acc[0],
                   back.init_acc[1], (*back.baseline_acc)[0], (*back.baseline_acc)[1],
                   back.metrics->acc, back.metrics->aia, back.metrics->plasticity,
                   back.metrics->forgetting_per_domain.at(0), back.pretrain->train_loss,
                   back.pretrain->train_acc, back.pretrain->seconds,
                   back.pretrain->eval.at(0).acc, back.pretrain->eval.at(0).loss}) {
    EXPECT_TRUE(std::isnan(v)) << v;
  }
  EXPECT_EQ(back.r_matrix[1][1], 0.5);
  // Optional metrics: null is "undefined", as for a run with one domain.
  EXPECT_FALSE(back.metrics->bwt || back.metrics->fwt || back.metrics->fwt_baseline ||
               back.metrics->forgetting || back.metrics->intransience);
  // Writing the record read back gives the same file again.
  EXPECT_EQ(to_json(back).dump(2), text);
  EXPECT_EQ(back.run.status, "failed");
}

TEST(RunRecord, ReadingAnUnopenableFileSaysWhy) {
  const auto dir = std::filesystem::temp_directory_path() / "moedil_run_record_loop_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("run.json", dir / "run.json");  // a link to itself
  try {
    read_run_record((dir / "run.json").string());
    FAIL() << "a symlink loop was read";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "run.json").string() + ": is a symbolic-link loop"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(RunRecord, UtcNowIsIso8601) {
  EXPECT_TRUE(std::regex_match(utc_now_iso(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
}

}  // namespace
}  // namespace moedil::io
