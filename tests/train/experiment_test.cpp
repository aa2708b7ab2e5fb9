// End-to-end runs on the generated synthetic dataset: run.json structure and values,
// determinism, failure handling.
#include "moedil/train/experiment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <torch/cuda.h>
#include <torch/serialize.h>

#if MOEDIL_TEST_IMAGES
#include <cstring>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#endif

#include "moedil/common/error.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/resolve.h"
#include "moedil/data/registry.h"
#include "moedil/io/provenance.h"
#include "moedil/model/registry.h"
#include "moedil/model/torch_save.h"
#include "moedil/model/weight_names.h"
#include "moedil/model/weights_file.h"
#include "moedil/train/trainer.h"
#include "../support/one_shot_http_server.h"

namespace moedil::train {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ExperimentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_experiment_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// A tiny vit_moe run: 3 synthetic domains, 2 epochs each.
  config::RunConfig tiny_config(const std::string& extra = "{}") const {
    json j = json::parse(R"({
      "dataset": "synthetic", "mini_dataset": 480, "num_partitions": 3,
      "partition": {"type": "domainIncremental"}, "train_frac": 0.75, "batch_size": 16,
      "epochs_per_domain": 2, "num_threads": 1,
      "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
                "moe_layer_indices": [1], "moe_num_unshared_experts": 3, "moe_top_k": 2,
                "moe_num_shared_experts": 1, "moe_routing_granularity": "sample",
                "moe_gate": "probability", "moe_balance_losses": {"switch": 1.0}},
      "router_balancing": true, "router_balance_strength": 0.01,
      "optimizer": {"name": "adam", "lr": 0.01}, "seeds": {"global": 3}})");
    j["results_dir"] = (dir_ / "results").string();
    j["log_dir"] = (dir_ / "logs").string();
    const json patch = json::parse(extra);
    if (patch.contains("model") && patch["model"].contains("name")) {
      // Another family: of the base's model keys, keep those it reads.
      j["model"]["name"] = patch["model"]["name"];
      j = config::without_unread_model_keys(j);
    }
    j.merge_patch(patch);
    config::RunConfig c = config::resolve_run_config(j, name_catalog());
    c.config_name = "tiny";
    return c;
  }

  /// run.json with the epochs and matrices of the files beside it: the whole record.
  static json read_json(const fs::path& path) {
    return io::to_json(io::read_run_record(path.string()));
  }

  fs::path dir_;
};

TEST_F(ExperimentTest, RunJsonRecordsRoutingEntropyAndDeadExpertsPerEpochAndLayer) {
  const json j = read_json(run_experiment(tiny_config()).run_json);
  ASSERT_EQ(j["epochs"].size(), 6u);
  for (const json& e : j["epochs"]) {
    const std::vector<int64_t> counts = e["expert_usage"]["blocks.1.moe"];
    const auto zeros = std::count(counts.begin(), counts.end(), 0);
    EXPECT_EQ(e["dead_experts"]["blocks.1.moe"].get<int64_t>(), zeros);
    const double entropy = e["routing_entropy"]["blocks.1.moe"].get<double>();
    EXPECT_GT(entropy, 0.0);  // a softmax router is never certain
    EXPECT_LE(entropy, std::log(3.0) + 1e-9);  // 3 experts
  }
}

TEST_F(ExperimentTest, RunJsonRecordsTheDroppedFractionPerEpochAndLayer) {
  // top-1 over 3 experts with capacity factor 0.5: a batch of 16 images lets each expert take
  // ceil(0.5 * 16 / 3) = 3, so at least 7 of 16 are dropped; the last batch of 8 (120 = 7 x 16
  // + 8) keeps at most 3 x ceil(0.5 * 8 / 3) = 6. At least 51 of 120 per epoch.
  const RunResult capped = run_experiment(tiny_config(R"({"model": {"moe_top_k": 1,
      "moe_capacity_factor": 0.5, "moe_noise_std": 0.1, "moe_expert_dropout": 0.2,
      "moe_balance_losses": {"switch": 1.0, "z_loss": 0.001}}})"));
  const json j = read_json(capped.run_json);
  EXPECT_EQ(j["run"]["status"], "completed");
  ASSERT_EQ(j["epochs"].size(), 6u);
  for (const json& e : j["epochs"]) {
    const double dropped = e["dropped_fraction"]["blocks.1.moe"].get<double>();
    EXPECT_GE(dropped, 51.0 / 120.0 - 1e-12);
    EXPECT_LE(dropped, 1.0);
  }
  // Expert choice: every expert exactly C images per batch, so the usage is the same for all.
  const RunResult chosen = run_experiment(
      tiny_config(R"({"model": {"moe_routing": "expert_choice", "moe_capacity_factor": 1.0}})"));
  for (const json& e : read_json(chosen.run_json)["epochs"]) {
    const auto usage = e["expert_usage"]["blocks.1.moe"].get<std::vector<int64_t>>();
    ASSERT_EQ(usage.size(), 3u);
    EXPECT_EQ(usage[0], usage[1]);
    EXPECT_EQ(usage[1], usage[2]);
  }
  // The default routing drops nothing.
  const RunResult plain = run_experiment(tiny_config());
  for (const json& e : read_json(plain.run_json)["epochs"]) {
    EXPECT_EQ(e["dropped_fraction"]["blocks.1.moe"].get<double>(), 0.0);
  }
}

TEST_F(ExperimentTest, CompletedRunWritesConsistentRunJson) {
  const RunResult result = run_experiment(tiny_config());
  ASSERT_TRUE(fs::exists(result.run_json));
  EXPECT_EQ(result.run_json.parent_path().parent_path(), dir_ / "results" / "tiny");
  EXPECT_TRUE(fs::exists(result.log_file));
  const json j = read_json(result.run_json);

  EXPECT_EQ(j["schema_version"], 7);
  EXPECT_EQ(j["run"]["status"], "completed");
  {
    // run.json is the summary; the epochs are lines of the files beside it.
    std::ifstream in(result.run_json);
    const json summary = json::parse(in);
    EXPECT_FALSE(summary.contains("epochs"));
    EXPECT_EQ(summary["epochs_done"], 6);
    const fs::path dir = result.run_json.parent_path();
    std::ifstream csv(dir / "metrics.csv");
    std::vector<std::string> rows;
    for (std::string line; std::getline(csv, line);) rows.push_back(line);
    ASSERT_EQ(rows.size(), 1u + 6u * 3u);  // header + 6 epochs x 3 evaluated domains
    EXPECT_EQ(rows[0].rfind("global_epoch,trained_domain,trained_domain_name,epoch,", 0), 0u);
    EXPECT_EQ(rows.back().rfind("5,2,d2,1,2,d2,", 0), 0u) << rows.back();
    std::ifstream progress(dir / "progress.json");
    const json p = json::parse(progress);
    EXPECT_EQ(p["status"], "completed");
    EXPECT_EQ(p["epochs_done"], 6);
  }
  EXPECT_TRUE(j["run"]["error"].is_null());
  EXPECT_FALSE(j["run"]["finished"].is_null());
  EXPECT_EQ(j["run"]["id"], result.run_id);
  EXPECT_EQ(j["run"]["config"]["model"]["moe_top_k"], 2);
  EXPECT_EQ(j["run"]["seeds"]["model"], 3);
  EXPECT_EQ(j["run"]["device"], "cpu");
  EXPECT_GT(j["run"]["num_parameters"].get<int64_t>(), 0);
  EXPECT_EQ(j["domains"], json::array({"d0", "d1", "d2"}));

  // 480 samples in 3 domains: 160 each, 120 train / 40 test.
  ASSERT_EQ(j["epochs"].size(), 6u);
  ASSERT_EQ(j["init_acc"].size(), 3u);
  for (std::size_t k = 0; k < j["epochs"].size(); ++k) {
    const json& e = j["epochs"][k];
    EXPECT_EQ(e["domain"], k / 2);
    EXPECT_EQ(e["epoch"], k % 2);
    EXPECT_DOUBLE_EQ(e["lr"].get<double>(), 0.01);
    EXPECT_GT(e["aux_loss"].get<double>(), 0.0);
    // Training usage: 120 images routed top-2 at sample granularity = 240 assignments.
    const auto train_usage = e["expert_usage"]["blocks.1.moe"].get<std::vector<int64_t>>();
    ASSERT_EQ(train_usage.size(), 3u);
    EXPECT_EQ(train_usage[0] + train_usage[1] + train_usage[2], 240);
    ASSERT_EQ(e["eval"].size(), 3u);
    for (std::size_t d = 0; d < 3; ++d) {
      const json& v = e["eval"][d];
      int64_t total = 0;
      int64_t diagonal = 0;
      for (std::size_t t = 0; t < 4; ++t) {
        for (std::size_t p = 0; p < 4; ++p) total += v["confusion"][t][p].get<int64_t>();
        diagonal += v["confusion"][t][t].get<int64_t>();
      }
      EXPECT_EQ(total, 40);
      EXPECT_DOUBLE_EQ(v["acc"].get<double>(), static_cast<double>(diagonal) / 40.0);
      const auto eval_usage = v["expert_usage"]["blocks.1.moe"].get<std::vector<int64_t>>();
      EXPECT_EQ(eval_usage[0] + eval_usage[1] + eval_usage[2], 80);  // 40 images x top-2
    }
  }
  // R-matrix rows are the evaluations after the last epoch of each domain.
  ASSERT_EQ(j["r_matrix"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t d = 0; d < 3; ++d) {
      EXPECT_EQ(j["r_matrix"][i][d], j["epochs"][2 * i + 1]["eval"][d]["acc"]);
      EXPECT_EQ(j["r_history"][0][i][d], j["epochs"][2 * i]["eval"][d]["acc"]);
      EXPECT_EQ(j["r_history"][1][i][d], j["r_matrix"][i][d]);
    }
  }
  const auto& r = j["r_matrix"];
  const double acc = (r[2][0].get<double>() + r[2][1].get<double>() + r[2][2].get<double>()) / 3;
  EXPECT_NEAR(j["metrics"]["acc"].get<double>(), acc, 1e-12);
  const double bwt = ((r[2][0].get<double>() - r[0][0].get<double>()) +
                      (r[2][1].get<double>() - r[1][1].get<double>())) / 2;
  EXPECT_NEAR(j["metrics"]["bwt"].get<double>(), bwt, 1e-12);
  EXPECT_TRUE(j["metrics"]["intransience"].is_null());
  // The synthetic task is easy: the model must learn it.
  EXPECT_GT(j["metrics"]["acc"].get<double>(), 0.5);
}

TEST_F(ExperimentTest, TheLogNamesEveryPluginThatChangesTrainingWithItsSettings) {
  const RunResult result = run_experiment(tiny_config(
      R"({"strategy": ["ewc", "derpp"], "ewc": {"lambda": 7}, "der": {"beta": 0.25},
          "replay": {"enabled": true, "capacity": 40, "ratio": 0.5},
          "router_freeze_per_domain_after_epochs": 1})"));
  std::ifstream in(result.log_file);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* line :
       {"[plugin] routers frozen after the first 1 epochs of every domain",
        "[plugin] experience replay: reservoir memory of 40 samples, 8 replayed into every "
        "batch",
        "[plugin] online EWC: lambda 7 gamma 1",
        "[plugin] DER++: alpha 0.5 beta 0.25; reservoir memory of 40 samples, 8 drawn per "
        "step"}) {
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
  // Bookkeeping plugins (schedule, checkpoints, results) are not listed: four lines.
  std::size_t lines = 0;
  for (std::size_t at = log.find("[plugin]"); at != std::string::npos;
       at = log.find("[plugin]", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 4u) << log;
}

TEST_F(ExperimentTest, SameSeedsGiveIdenticalMetricsAndOtherSeedsDiffer) {
  const json a = read_json(run_experiment(tiny_config()).run_json);
  const json b = read_json(run_experiment(tiny_config()).run_json);
  EXPECT_NE(a["run"]["id"], b["run"]["id"]);
  EXPECT_EQ(a["metrics"], b["metrics"]);
  EXPECT_EQ(a["r_history"], b["r_history"]);
  for (std::size_t k = 0; k < a["epochs"].size(); ++k) {
    EXPECT_EQ(a["epochs"][k]["train_loss"], b["epochs"][k]["train_loss"]);
    EXPECT_EQ(a["epochs"][k]["expert_usage"], b["epochs"][k]["expert_usage"]);
  }
  const json c = read_json(run_experiment(tiny_config(R"({"seeds": {"global": 4}})")).run_json);
  EXPECT_NE(a["epochs"][0]["train_loss"], c["epochs"][0]["train_loss"]);
}

// The predecessor's unseeded seeds: each run draws its own, records it in run.json (config and
// seeds alike) and logs it, so two runs differ and each can be redone from its run.json.
TEST_F(ExperimentTest, UnseededRunsDifferAndRecordTheSeedsTheyDrew) {
  const config::RunConfig unseeded = tiny_config(R"({"seeds": {"global": 0, "model": 9}})");
  const RunResult first = run_experiment(unseeded);
  const json a = read_json(first.run_json);
  const json b = read_json(run_experiment(tiny_config(R"({"seeds": {"global": 0, "model": 9}})"))
                               .run_json);
  EXPECT_EQ(a["run"]["seeds"]["global"], unseeded.seeds.global);
  EXPECT_EQ(a["run"]["seeds"]["model"], 9);
  EXPECT_EQ(a["run"]["seeds"]["loader"], unseeded.seeds.global);  // follows global
  EXPECT_EQ(a["run"]["config"]["seeds"]["zero_is_a_seed"], false);
  EXPECT_NE(a["run"]["seeds"]["global"], b["run"]["seeds"]["global"]);
  // Same model initialisation (seed 9), other data splits and batch orders.
  EXPECT_NE(a["epochs"][0]["train_loss"], b["epochs"][0]["train_loss"]);
  std::ifstream in(first.log_file);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("[seeds] unseeded in the config (0, \"random\" or null), so drawn for this "
                     "run: global"),
            std::string::npos)
      << log;
  // Redone from its run.json, the run gives the same numbers.
  config::RunConfig again = config::resolve_run_config(a["run"]["config"], name_catalog());
  again.config_name = "tiny";
  EXPECT_TRUE(again.seeds.drawn.empty());
  EXPECT_EQ(read_json(run_experiment(again).run_json)["metrics"], a["metrics"]);
}

// The predecessor's model.num_classes and model.img_size are checked against the data before
// any run directory exists (the synthetic dataset: 4 classes of 8x8 images).
TEST_F(ExperimentTest, NumClassesAndImgSizeMustBeTheDatasets) {
  EXPECT_EQ(read_json(run_experiment(
                          tiny_config(R"({"model": {"num_classes": 4, "img_size": 8}})"))
                          .run_json)["run"]["status"],
            "completed");
  for (const auto& [patch, message] :
       std::vector<std::pair<std::string, std::string>>{
           {R"({"model": {"num_classes": 10}})",
            "model.num_classes is 10 but synthetic has 4 classes"},
           {R"({"model": {"img_size": 32}})", "model.img_size is 32 but the model sees 8x8"}}) {
    try {
      run_experiment(tiny_config(patch));
      ADD_FAILURE() << patch << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  // Only the first run left a directory.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "results" / "tiny"),
                          fs::directory_iterator{}),
            1);
}

// The predecessor's augmentation keys, every step on, train and are reproducible; a crop
// side other than the images' is refused before the run starts.
TEST_F(ExperimentTest, ThePredecessorsAugmentationsTrainReproducibly) {
  const std::string all = R"({"augmentation": {"random_resize_crop": true, "random_crop": true,
      "random_flip": true, "color_jitter": true, "blur": true, "noise": true, "resize": 8}})";
  const json a = read_json(run_experiment(tiny_config(all)).run_json);
  const json b = read_json(run_experiment(tiny_config(all)).run_json);
  const json plain = read_json(run_experiment(tiny_config()).run_json);
  EXPECT_EQ(a["run"]["status"], "completed");
  for (std::size_t k = 0; k < a["epochs"].size(); ++k) {
    EXPECT_EQ(a["epochs"][k]["train_loss"], b["epochs"][k]["train_loss"]) << k;
  }
  EXPECT_EQ(a["metrics"], b["metrics"]);
  EXPECT_NE(a["epochs"][0]["train_loss"], plain["epochs"][0]["train_loss"]);
  EXPECT_THROW(run_experiment(tiny_config(R"({"augmentation": {"random_crop": true}})")),
               ConfigError);  // the predecessor's default side 32, and these are 8x8
}

// Configs written in the predecessor's style, one per model family it had (vit_moe under its
// name moe_vit, the image-level model, the switch model), on tiny synthetic data: each
// validates and runs, and run.json shows the predecessor's meanings.
TEST_F(ExperimentTest, PredecessorStyleConfigsOfEveryFamilyValidateAndRun) {
  const std::string common = R"(
    "dataset": "synthetic", "dataset_root": "./datasets", "mini_dataset": 240,
    "num_partitions": 3, "partition": {"type": "domainIncremental", "alpha": 100,
                                       "min_size": 10, "balanced": true},
    "train_frac": 0.75, "batch_size": 16, "epochs_per_domain": 2, "shuffle": true,
    "num_workers": 0, "num_threads": 1,
    "augmentation": {"random_resize_crop": true, "random_crop": false, "resize": 8,
                     "random_flip": true, "color_jitter": true, "blur": true, "noise": true},
    "loss": {"name": "weighted_cross_entropy", "weighted": true, "lr": 0.01,
             "weight_upper_limit": 20.0, "weight_cumulative": false, "alpha": "auto",
             "gamma": 2.0},
    "optimizer": {"name": "adamw"},
    "pretrain": {"enabled": true, "num_samples": 40, "with_replacement": false, "epochs": 2},
    "pretrain_scheduler": {"name": "linear", "start_factor": 0.1, "end_factor": 1.0},
    "scheduler": {"name": "linear", "start_factor": 0.5, "end_factor": 1.0, "total_iters": 4},
    "baseline": {"enabled": true, "train": true, "accuracies": null},
    "router_balancing": true, "router_balance_strength": 0.1,
    "router_freeze_after_epochs": 0, "router_lr_multiplier": 0.1,
    "router_lr_multiplier_after_epochs": 2, "warmup_epochs": 2, "warmup_starting_LR": 1e-5,
    "seeds": {"global": 0, "dataset": 1, "partition": 2, "model": 3, "training": 5,
              "pretrain": 4},
  )";
  const std::vector<std::string> models = {
      R"("model": {"name": "moe_vit", "num_classes": 4, "img_size": 8, "patch_size": 4,
                   "embed_dim": 16, "depth": 4, "num_heads": 2, "mlp_ratio": 2.0,
                   "moe_layer_indices": "back_half_every_other", "moe_num_unshared_experts": 4,
                   "moe_num_shared_experts": 1, "moe_top_k": 1, "moe_route_with_cls_token": true,
                   "route_with_cls_token": true, "moe_expert_lr_multiplier": 3.0,
                   "pretrained": false, "pretrained_vit": null})",
      R"("model": {"name": "vit_moe_imagelevel", "num_classes": 4, "patch_size": 4,
                   "embed_dim": 16, "depth": 2, "num_heads": 2, "mlp_ratio": 1.0,
                   "moe_layer_indices": [1], "num_experts": 3, "alpha_fast": 0.8,
                   "alpha_slow": 0.99, "repulsion_k": 2, "repulsion_margin": 0.15,
                   "moe_lambda_fast": 0.02, "moe_lambda_slow": 0.02, "moe_lambda_align": 0.3,
                   "moe_lambda_cons": 0.05, "moe_lambda_lb_init": 1.0, "moe_anneal_epochs": 10,
                   "detach_align_steps": 10, "routing_temp": 1.0, "routing_anneal_epochs": 2,
                   "route_with_cls_token": false, "pretrained_vit": true})",
      // The switch model under moedil's name: the predecessor's vit_switch_moe is always the
      // pretrained ViT-S/16 (Predecessor.SwitchModelIsAlwaysThePretrainedVitSmall), which 8x8
      // images cannot feed.
      R"("model": {"name": "switch_moe_vit", "num_classes": 4, "patch_size": 4,
                   "embed_dim": 16, "depth": 6, "num_heads": 2, "num_experts": 2,
                   "ema_alpha": 0.95, "routing_alpha": 0.9, "upper_blocks": 4,
                   "route_with_class_token": false, "prototype_init_domains": [0, 1, 2]})",
      // Its ensemble (core50-moe_ensemble_LR_scale), with its replay policy "random".
      R"("replay": {"enabled": true, "capacity": 50, "policy": "random"},
         "model": {"name": "vit_moe", "num_classes": 4, "patch_size": 4, "embed_dim": 16,
                   "depth": 4, "num_heads": 2, "mlp_ratio": 2.0,
                   "moe_layer_indices": "back_half_every_other", "moe_num_unshared_experts": 0,
                   "moe_num_shared_experts": 3, "moe_top_k": 0, "moe_route_with_cls_token": true,
                   "moe_shared_lr_multipliers": [1.0, 0.5, 0.1], "pretrained": false})"};
  for (const std::string& model : models) {
    SCOPED_TRACE(model.substr(0, 60));
    const std::string text = "{" + common + model + "}";
    json j = config::parse_jsonc(text, "pred.jsonc");
    j["results_dir"] = (dir_ / "results").string();
    j["log_dir"] = (dir_ / "logs").string();
    config::RunConfig c = config::resolve_run_config(j, name_catalog(), text, "pred.jsonc");
    c.config_name = "pred";
    EXPECT_FALSE(c.notes.empty());
    const RunResult result = run_experiment(c);
    const json r = read_json(result.run_json);
    ASSERT_EQ(r["run"]["status"], "completed") << r["run"]["error"];
    // Unseeded global (0), drawn and recorded; the given kinds as given.
    EXPECT_EQ(r["run"]["seeds"]["global"], c.seeds.global);
    EXPECT_NE(r["run"]["seeds"]["global"], 0);
    EXPECT_EQ(r["run"]["seeds"]["model"], 3);
    // loss.lr is the LR; adamw's weight decay is torch's 0.01.
    EXPECT_EQ(r["run"]["config"]["optimizer"]["lr"], 0.01);
    EXPECT_EQ(r["run"]["config"]["optimizer"]["weight_decay"], 0.01);
    // The pretraining LinearLR over epochs_per_domain 2 epochs: 0.1 lr, then lr.
    const std::vector<double> lr = r["pretrain"]["lr"];
    ASSERT_EQ(lr.size(), 2u);
    EXPECT_NEAR(lr[0], 0.001, 1e-12);
    EXPECT_NEAR(lr[1], 0.0055, 1e-12);
    // The main LinearLR over the whole run: factor 0.5 rising to 1.0 over 4 epochs, then 1.0.
    const std::vector<double> factors = {0.5, 0.625, 0.75, 0.875, 1.0, 1.0};
    ASSERT_EQ(r["epochs"].size(), factors.size());
    for (std::size_t k = 0; k < factors.size(); ++k) {
      EXPECT_NEAR(r["epochs"][k]["lr"].get<double>(), 0.01 * factors[k], 1e-12) << "epoch " << k;
    }
    // The predecessor's draw: 40 samples from the whole dataset.
    EXPECT_EQ(r["run"]["config"]["pretrain"]["draw"], "dataset");
    EXPECT_EQ(r["pretrain"]["num_samples"], 40);
    // Routers train in global epoch 0 only: the first pretraining epoch.
    EXPECT_EQ(r["pretrain"]["routers_frozen"], json::parse("[false, true]"));
    for (const json& e : r["epochs"]) EXPECT_TRUE(e["routers_frozen"].get<bool>());
    // baseline.train: one baseline per domain, trained epochs_per_domain epochs.
    EXPECT_EQ(r["baseline_acc"].size(), 3u);
    EXPECT_EQ(r["run"]["config"]["baseline"]["epochs"], 2);
    std::ifstream in(result.log_file);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("[config] warmup_epochs: read by no predecessor code"), std::string::npos);
    EXPECT_NE(log.find("[data] pretraining: 40 samples drawn uniformly from the dataset (out of "
                       "the domains"),
              std::string::npos);
    if (c.replay.enabled) {
      // The ensemble: shared experts summed, no router; replay as its separate batch.
      EXPECT_EQ(r["run"]["config"]["model"]["moe_top_k"], 0);
      EXPECT_EQ(r["run"]["config"]["model"]["moe_shared_lr_multipliers"],
                json::parse("[1.0, 0.5, 0.1]"));
      EXPECT_EQ(r["run"]["config"]["replay"]["policy"], "reservoir");
      EXPECT_EQ(r["run"]["config"]["replay"]["mode"], "separate");
      for (const json& e : r["epochs"]) {
        EXPECT_GT(e["replayed"].get<int64_t>(), 0);
        EXPECT_TRUE(e["expert_usage"].empty());
      }
    }
  }
}

// The predecessor's image-level model routes on its SLOW centroids only: the fast keep rate
// changes no number of a run, the slow one (1: the first batch's images forever, 0: each
// batch's means) changes the routing.
TEST_F(ExperimentTest, ImageLevelModelRoutesOnTheSlowCentroidsOnly) {
  const auto run = [&](double fast, double slow) {
    const std::string model =
        R"({"model": {"name": "vit_moe_imagelevel", "depth": 2, "moe_layer_indices": [1],
            "moe_num_unshared_experts": 3, "alpha_fast": )" +
        std::to_string(fast) + R"(, "alpha_slow": )" + std::to_string(slow) + "}}";
    const json j = read_json(run_experiment(tiny_config(model)).run_json);
    EXPECT_EQ(j["run"]["status"], "completed");
    return j;
  };
  const json fast0 = run(0.0, 1.0);
  const json fast1 = run(1.0, 1.0);
  EXPECT_EQ(fast0["r_matrix"], fast1["r_matrix"]);
  EXPECT_EQ(fast0["epochs"].back()["expert_usage"], fast1["epochs"].back()["expert_usage"]);
  EXPECT_EQ(fast0["epochs"].back()["eval"][0]["expert_usage"],
            fast1["epochs"].back()["eval"][0]["expert_usage"]);
  const json slow0 = run(1.0, 0.0);
  json usage_fixed, usage_moving;
  for (const json& e : fast1["epochs"]) usage_fixed.push_back(e["expert_usage"]);
  for (const json& e : slow0["epochs"]) usage_moving.push_back(e["expert_usage"]);
  EXPECT_NE(usage_fixed, usage_moving);
  // Hard routing: one row per image, no routing entropy.
  for (const json& e : fast1["epochs"]) {
    EXPECT_EQ(e["routing_entropy"]["blocks.1.moe"], 0.0);
  }
}

// A predecessor vit_moe config leaves moedil's routing keys out: every token is routed (usage
// counts tokens: 4 patches + CLS per 8x8 image), top-1 gates are 1 and its balance loss
// (mean_prob_mse) is the aux loss, weighted by router_balance_strength.
TEST_F(ExperimentTest, PredecessorVitMoeRoutesEveryTokenAndBalancesWithItsLoss) {
  const json j = read_json(run_experiment(tiny_config(R"({"router_balancing": true,
      "router_balance_strength": 0.5, "model": {"moe_top_k": 1, "moe_num_shared_experts": 0,
      "moe_routing_granularity": null, "moe_gate": null, "moe_balance_losses": null,
      "moe_route_with_cls_token": true}})")).run_json);
  ASSERT_EQ(j["run"]["status"], "completed");
  const json& model = j["run"]["config"]["model"];
  EXPECT_EQ(model["moe_routing_granularity"], "token");
  EXPECT_EQ(model["moe_gate"], "renormalized");
  EXPECT_EQ(model["moe_balance_losses"], json::parse(R"({"mean_prob_mse": 1.0})"));
  // The same run routing per image counts images.
  const json per_image = read_json(run_experiment(tiny_config(R"({"router_balancing": true,
      "router_balance_strength": 0.5, "model": {"moe_top_k": 1, "moe_num_shared_experts": 0,
      "moe_routing_granularity": "sample"}})")).run_json);
  const auto rows_of = [](const json& e) {
    int64_t rows = 0;
    for (int64_t n : e["expert_usage"]["blocks.1.moe"].get<std::vector<int64_t>>()) rows += n;
    return rows;
  };
  ASSERT_EQ(per_image["epochs"].size(), j["epochs"].size());
  for (std::size_t i = 0; i < j["epochs"].size(); ++i) {
    const json& e = j["epochs"][i];
    EXPECT_EQ(rows_of(e), 5 * rows_of(per_image["epochs"][i])) << "4 patches + CLS per image";
    // 0.5 x mean_e (P_e - 1/3)^2 <= 0.5 x ((2/3)^2 + 2 (1/3)^2) / 3 = 0.5 x 2/9.
    EXPECT_GT(e["aux_loss"].get<double>(), 0.0);
    EXPECT_LT(e["aux_loss"].get<double>(), 0.5 * 2.0 / 9.0 + 1e-9);
    EXPECT_EQ(e["balance_weight"], 0.5);
  }
}

TEST_F(ExperimentTest, NonFiniteLossMarksTheRunFailedNamingWhere) {
  config::RunConfig c = tiny_config(R"({"optimizer": {"name": "sgd", "momentum": 0.9}})");
  c.optimizer.lr = 1e30;  // beyond what validation accepts: the weights overflow at once
  try {
    run_experiment(c);
    FAIL() << "expected TrainingError";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("domain 1/3 (d0), epoch 1/2, step"), std::string::npos)
        << e.what();
  }
  const auto runs = fs::directory_iterator(dir_ / "results" / "tiny");
  const fs::path run_dir = runs->path();
  const json j = read_json(run_dir / "run.json");
  EXPECT_EQ(j["run"]["status"], "failed");
  EXPECT_NE(j["run"]["error"].get<std::string>().find("non-finite loss"), std::string::npos);
  EXPECT_TRUE(j["metrics"].is_null());
}

TEST_F(ExperimentTest, InterruptDuringTrainingMarksTheRunInterrupted) {
  // Stop as soon as the run exists (its first run.json), i.e. once it is evaluating or training.
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    while (!done.load()) {
      std::error_code ec;
      for (const auto& run : fs::directory_iterator(dir_ / "results" / "tiny", ec)) {
        if (fs::exists(run.path() / "run.json")) {
          stop_requested().store(2);
          return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  EXPECT_THROW(run_experiment(tiny_config(R"({"epochs_per_domain": 40})")), InterruptedError);
  done = true;
  stopper.join();
  stop_requested().store(0);
  const fs::path run_dir = fs::directory_iterator(dir_ / "results" / "tiny")->path();
  const json j = read_json(run_dir / "run.json");
  EXPECT_EQ(j["run"]["status"], "interrupted");
  EXPECT_LT(j["epochs"].size(), 120u);
}

TEST_F(ExperimentTest, AStopBeforeTheRunExistsLeavesNoRunBehind) {
  // The flag is polled while loading, partitioning and building: a fresh run ends there.
  stop_requested().store(15);
  try {
    run_experiment(tiny_config());
    ADD_FAILURE() << "the run went on after a stop request";
  } catch (const InterruptedError& e) {
    EXPECT_EQ(e.signal(), 15);
    EXPECT_NE(std::string(e.what()).find("interrupted while"), std::string::npos) << e.what();
  }
  // An explicit run directory made for it is removed again.
  EXPECT_THROW(run_experiment(tiny_config(), RunPlace{dir_ / "explicit" / "run1", false}),
               InterruptedError);
  stop_requested().store(0);
  EXPECT_FALSE(fs::exists(dir_ / "results"));
  EXPECT_FALSE(fs::exists(dir_ / "explicit"));
}

TEST_F(ExperimentTest, AStopWhileAContinuedRunLoadsIsRecordedInItsRunJson) {
  const fs::path run_dir = dir_ / "runs" / "r1";
  run_experiment(tiny_config(), RunPlace{run_dir, false});
  // Pretend it was killed while running (status "running", lock free).
  json j = read_json(run_dir / "run.json");
  j["run"]["status"] = "running";
  std::ofstream(run_dir / "run.json") << j.dump();
  stop_requested().store(2);
  EXPECT_THROW(run_experiment(tiny_config(), RunPlace{run_dir, true}), InterruptedError);
  stop_requested().store(0);
  j = read_json(run_dir / "run.json");
  EXPECT_EQ(j["run"]["status"], "interrupted");
  EXPECT_NE(j["run"]["error"].get<std::string>().find("interrupted while"), std::string::npos);
  EXPECT_FALSE(j["run"]["finished"].is_null());
  EXPECT_EQ(j["epochs"].size(), 6u);  // what it had done is kept
}

TEST_F(ExperimentTest, RunDirectoriesStayInsideResultsDirWhateverTheConfigName) {
  for (const std::string name : {"..", ".", "", "a/../..", "line\nbreak"}) {
    config::RunConfig c = tiny_config(R"({"epochs_per_domain": 1})");
    c.config_name = name;
    const RunResult r = run_experiment(c);
    const fs::path rel = fs::relative(fs::weakly_canonical(r.run_json),
                                      fs::weakly_canonical(dir_ / "results"));
    EXPECT_FALSE(rel.empty()) << name;
    EXPECT_NE(*rel.begin(), "..") << name << " went to " << r.run_json;
    EXPECT_EQ(std::distance(rel.begin(), rel.end()), 3) << rel;  // <config>/<id>/run.json
    EXPECT_EQ(read_json(r.run_json)["run"]["config_name"], name);  // recorded as it is
  }
  EXPECT_TRUE(fs::exists(dir_ / "results" / "_.."));
  EXPECT_TRUE(fs::exists(dir_ / "results" / "config"));
  EXPECT_TRUE(fs::exists(dir_ / "results" / "line_break"));
}

TEST_F(ExperimentTest, AConfigNameRunJsonCannotHoldIsAConfigErrorAndLeavesNoRun) {
  config::RunConfig c = tiny_config();
  c.config_name = "bad\xff";
  try {
    run_experiment(c);
    ADD_FAILURE() << "a non-UTF-8 config name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is not valid UTF-8"), std::string::npos) << e.what();
  }
  c = tiny_config();
  c.results_dir = (dir_ / "results" / "r\xfe").string();  // a string of the config itself
  EXPECT_THROW(run_experiment(c), ConfigError);
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(ExperimentTest, ALinkPlantedAtTheLogFileFailsTheRunWithoutFollowingIt) {
  fs::create_directories(dir_ / "logs");
  std::ofstream(dir_ / "victim") << "precious";
  fs::create_symlink(dir_ / "victim", dir_ / "logs" / "r2.log");
  EXPECT_THROW(run_experiment(tiny_config(), RunPlace{dir_ / "runs" / "r2", false}), IoError);
  std::ifstream in(dir_ / "victim");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "precious");
  const json j = read_json(dir_ / "runs" / "r2" / "run.json");  // the failure is recorded
  EXPECT_EQ(j["run"]["status"], "failed");
  EXPECT_NE(j["run"]["error"].get<std::string>().find("is a symbolic link"), std::string::npos);
}

TEST_F(ExperimentTest, RecordsTheBuildCommitAndTheWorkingTreesWithoutRunningGit) {
  const json j = read_json(run_experiment(tiny_config(R"({"epochs_per_domain": 1})")).run_json);
  EXPECT_EQ(j["run"]["git"], io::build_commit());
  EXPECT_EQ(j["run"]["workdir_git"], io::worktree_commit("."));
}

/// The whole text of `file`.
std::string text_of(const fs::path& file) {
  std::ifstream in(file);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// model.freeze_backbone in a whole run: the ViT's own tensors end where the model seed put
// them; the head, the router and the experts train.
TEST_F(ExperimentTest, FreezeBackboneTrainsOnlyHeadsRoutersAndExperts) {
  const config::RunConfig c = tiny_config(R"({"model": {"freeze_backbone": true}})");
  const RunResult run = run_experiment(c);
  const model::NamedTensors end =
      model::read_weights_file((run.run_json.parent_path() / "checkpoint.pt").string());
  const data::Dataset dataset = data::make_dataset(c);
  torch::manual_seed(static_cast<uint64_t>(c.seeds.model));
  model::Classifier start = model::make_model(
      c.model, {dataset.channels(), dataset.height(), dataset.width(), dataset.num_classes});
  const model::NamedTensors initial = model::named_tensors(*start);
  const auto at_start = [&](const std::string& name) { return initial.at(name); };
  for (const char* frozen : {"patch_embed.weight", "pos_embed", "blocks.0.attn.qkv.weight",
                             "blocks.1.norm2.weight", "norm.weight"}) {
    EXPECT_TRUE(at::equal(end.at(frozen), at_start(frozen))) << frozen;
  }
  for (const char* trained : {"head.weight", "blocks.1.moe.router.gate.weight",
                              "blocks.1.moe.shared_experts.0.fc1.weight"}) {
    EXPECT_FALSE(at::equal(end.at(trained), at_start(trained))) << trained;
  }
  EXPECT_NE(text_of(run.log_file).find("[model] freeze_backbone: "), std::string::npos);
}

TEST_F(ExperimentTest, InitWeightsFromAFinishedRunStartWhereItEnded) {
  const RunResult first = run_experiment(tiny_config());
  const fs::path checkpoint = first.run_json.parent_path() / "checkpoint.pt";
  ASSERT_TRUE(fs::exists(checkpoint));
  config::RunConfig c = tiny_config();
  c.model.init_weights = checkpoint.string();
  const RunResult second = run_experiment(c);
  // Same data and splits: accuracy before training is the first run's accuracy at its end.
  EXPECT_EQ(second.record.init_acc, first.record.r_matrix.back());
  EXPECT_NE(first.record.init_acc, first.record.r_matrix.back());
  // The load report is in the run's log (it used to go out before the log file existed).
  std::ifstream log_in(second.log_file);
  const std::string log((std::istreambuf_iterator<char>(log_in)),
                        std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("[model] init_weights " + checkpoint.string() + ": matched "),
            std::string::npos)
      << log;

  // A weights file that does not exist, or matches nothing, fails before any run directory.
  const auto runs = [&] {
    return std::distance(fs::directory_iterator(dir_ / "results" / "tiny"), fs::directory_iterator());
  };
  const auto before = runs();
  c.model.init_weights = (dir_ / "absent.pt").string();
  EXPECT_THROW(run_experiment(c), DataError);
  c10::impl::GenericDict unrelated(c10::StringType::get(), c10::TensorType::get());
  unrelated.insert("encoder.layer.0.weight", at::ones({3}));
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(unrelated));
  std::ofstream(dir_ / "unrelated.pt", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  c.model.init_weights = (dir_ / "unrelated.pt").string();
  try {
    run_experiment(c);
    FAIL() << "a weights file matching nothing was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("matches the model"), std::string::npos) << e.what();
  }
  EXPECT_EQ(runs(), before);
}

// A pretrained start that is not there: exit 2 before any run directory, naming the file and
// the command that writes it.
TEST_F(ExperimentTest, AMissingPretrainedFileNamesItAndTheExportCommand) {
  config::RunConfig c = tiny_config();
  c.model.pretrained = (dir_ / "weights" / "vit_small.pt").string();
  c.weights_dir = (dir_ / "weights").string();
  try {
    run_experiment(c);
    FAIL() << "a missing pretrained file was accepted";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'" + c.model.pretrained + "' does not exist"), std::string::npos)
        << message;
    EXPECT_NE(message.find("timm.create_model('vit_small_patch16_224', pretrained=True)"),
              std::string::npos)
        << message;
  }
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

#if MOEDIL_TEST_IMAGES
/// A small OfficeHome tree at `root`: its 4 domains, 3 classes of 4 flat 32x32 images each.
void write_officehome_tree(const fs::path& root) {
  for (const char* domain : {"Art", "Clipart", "Product", "Real World"}) {
    for (int cls = 0; cls < 3; ++cls) {
      for (int i = 0; i < 4; ++i) {
        const cv::Mat image(32, 32, CV_8UC3,
                            cv::Scalar(40 * cls + 7 * i, 60 + 50 * cls, std::strlen(domain) * 9));
        const fs::path file = root / domain / ("class" + std::to_string(cls)) /
                              (std::to_string(i) + ".png");
        fs::create_directories(file.parent_path());
        ASSERT_TRUE(cv::imwrite(file.string(), image));
      }
    }
  }
}

/// The "downloaded" weights: a random ViT of timm's shape `embed_dim` / `num_heads` (patch 16,
/// 12 blocks) for 224x224 images and 3 classes, saved under timm's names at `file`.
void write_timm_vit(const fs::path& file, int64_t embed_dim, int64_t num_heads) {
  config::ModelConfig shape;
  shape.name = "vit";
  shape.patch_size = 16;
  shape.embed_dim = embed_dim;
  shape.depth = 12;
  shape.num_heads = num_heads;
  shape.mlp_ratio = 4.0;
  torch::manual_seed(11);
  model::Classifier dense = model::make_model(shape, {3, 224, 224, 3});
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary)
      << model::write_torch_save(model::from_moedil_names(model::named_tensors(*dense), "timm"));
}

// The predecessor's OfficeHome "modeltransfer" configs, in its style, on a small OfficeHome
// tree: a ViT-Tiny file (timm names, 224x224 positions, made here) is the start of a vit_moe
// and a vit_moe_imagelevel whose experts are upcycled from its MLPs; before any training both
// have the accuracy of the dense ViT loaded from the same file.
TEST_F(ExperimentTest, PredecessorModelTransferStartsFromThePretrainedViT) {
  const fs::path root = dir_ / "OfficeHomeDataset_10072016";
  write_officehome_tree(root);
  const fs::path weights = dir_ / "vit_tiny_in1k.pth";
  write_timm_vit(weights, 192, 3);

  const auto run = [&](const std::string& model) {
    json j = json::parse(R"({
      "dataset": "OfficeHomeDataset", "resize": 32, "num_partitions": 4,
      "partition": {"type": "domainIncremental"},
      "train_frac": 0.5, "batch_size": 8, "epochs_per_domain": 1, "num_threads": 1,
      "loss": {"name": "cross_entropy", "lr": 0.0001}, "optimizer": {"name": "adamw"},
      "seed": 5})");
    j["dataset_root"] = root.string();
    j["model"] = json::parse(model);
    j["model"]["pretrained_vit_tiny_path"] = weights.string();
    j["results_dir"] = (dir_ / "results").string();
    j["log_dir"] = (dir_ / "logs").string();
    config::RunConfig c = config::resolve_run_config(j, name_catalog());
    c.config_name = "modeltransfer";
    return run_experiment(c);
  };
  // The dense model: the predecessor's "vit" (one shared expert), with the MoE ViTs' LayerNorm
  // eps so that the three compute the same function at the start.
  const RunResult vit = run(R"({"name": "vit_moe", "num_classes": 3, "pretrained": false,
      "pretrained_vit": null, "moe_num_unshared_experts": 0, "moe_num_shared_experts": 1,
      "moe_top_k": 0, "layer_norm_eps": 1e-5})");
  const RunResult moe = run(R"({"name": "vit_moe", "num_classes": 3, "pretrained": false,
      "pretrained_vit": null, "moe_layer_indices": "back_half_every_other",
      "moe_num_unshared_experts": 4, "moe_top_k": 1})");
  const RunResult imagelevel = run(R"({"name": "vit_moe_imagelevel", "num_classes": 3,
      "pretrained": false, "pretrained_vit": null, "moe_layer_indices": [8, 9, 10, 11],
      "num_experts": 3, "alpha_fast": 0.8, "alpha_slow": 0.99})");
  ASSERT_EQ(vit.record.init_acc.size(), 4u);
  EXPECT_EQ(moe.record.init_acc, vit.record.init_acc);
  EXPECT_EQ(imagelevel.record.init_acc, vit.record.init_acc);
  for (const RunResult* r : {&vit, &moe, &imagelevel}) {
    std::ifstream in(r->log_file);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(log.find("[model] pretrained " + weights.string() + ": matched "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("; resampled 1 (pos_embed 14x14 -> 2x2)"), std::string::npos) << log;
    EXPECT_NE(log.find("; timm names"), std::string::npos) << log;
  }
  std::ifstream in(moe.log_file);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Blocks 7, 9, 11, 4 experts each, fc1/fc2 weight and bias.
  EXPECT_NE(log.find("[model] upcycled 48 expert tensors"), std::string::npos) << log;
}

// The predecessor's switch model (oh-moeptr-stdevtest, in its style): always timm's pretrained
// ViT-S/16 (weights_dir/vit_small.pt), its patch embedding and lower 8 blocks shared and
// frozen, each of its 4 expert towers a copy of blocks 8-11, the final norm and the head, and
// its prototypes from the first image of each class of each domain folder. Before training it
// has the accuracy of the dense ViT-S loaded from the same file.
TEST_F(ExperimentTest, PredecessorSwitchModelStartsFromThePretrainedViTSmall) {
  const fs::path root = dir_ / "OfficeHomeDataset_10072016";
  write_officehome_tree(root);
  write_timm_vit(dir_ / "weights" / "vit_small.pt", 384, 6);
  const auto run = [&](const std::string& model) {
    json j = json::parse(R"({
      "dataset": "officehome", "resize": 32, "num_partitions": 4,
      "partition": {"type": "domainIncremental"}, "train_frac": 0.5, "batch_size": 8,
      "epochs_per_domain": 1, "num_threads": 1, "loss": {"name": "cross_entropy", "lr": 1e-4},
      "optimizer": {"name": "adamw"}, "seed": 5})");
    j["dataset_root"] = root.string();
    j["weights_dir"] = (dir_ / "weights").string();
    j["model"] = json::parse(model);
    j["results_dir"] = (dir_ / "results").string();
    j["log_dir"] = (dir_ / "logs").string();
    config::RunConfig c = config::resolve_run_config(j, name_catalog());
    c.config_name = "switch";
    return run_experiment(c);
  };
  // The dense ViT-S (timm's LayerNorm eps 1e-6, as the predecessor's switch blocks).
  const RunResult dense = run(R"({"name": "vit_small", "pretrained": true})");
  const RunResult sw = run(R"({"name": "vit_switch_moe", "num_classes": 3,
      "pretrained_vit": "small", "num_experts": 4, "ema_alpha": 0.98, "routing_alpha": 0.9,
      "prototype_init_domains": [0, 1, 2, 3], "route_with_class_token": false,
      "upper_blocks": 4, "prototype_init_dataset": ")" + root.string() + R"("})");
  ASSERT_EQ(dense.record.init_acc.size(), 4u);
  EXPECT_EQ(sw.record.init_acc, dense.record.init_acc);
  const std::string log = text_of(sw.log_file);
  // 4 towers x (4 blocks x 12 tensors + final norm and head weight and bias).
  EXPECT_NE(log.find("[model] upcycled 208 expert tensors"), std::string::npos) << log;
  EXPECT_NE(log.find("[model] prototypes: 4 of 4 set from the first image of each class of " +
                     root.string() + " (Art, Clipart, Product, Real World; 12 images)"),
            std::string::npos)
      << log;
  const json recorded = read_json(sw.run_json)["run"]["config"]["model"];
  EXPECT_EQ(recorded["pretrained"], (dir_ / "weights" / "vit_small.pt").string());
  EXPECT_EQ(recorded["freeze_shared"], true);
  EXPECT_EQ(recorded["expert_depth"], 4);
  EXPECT_EQ(recorded["layer_norm_eps"], 1e-6);
}

// The predecessor's prototype-router head (core50-vit-moeHead, in its style, on the OfficeHome
// fixture): timm's ViT-S/16 from weights_dir, fine-tuned whole, 4 linear heads chosen by the
// nearest of 4 random unit prototypes, frozen by router_lr_multiplier 0.
TEST_F(ExperimentTest, PredecessorPrototypeHeadRunsFromThePretrainedViTSmall) {
  const fs::path root = dir_ / "OfficeHomeDataset_10072016";
  write_officehome_tree(root);
  write_timm_vit(dir_ / "weights" / "vit_small.pt", 384, 6);
  json j = json::parse(R"({
    "dataset": "officehome", "resize": 32, "num_partitions": 4,
    "partition": {"type": "domainIncremental"}, "train_frac": 0.5, "batch_size": 8,
    "epochs_per_domain": 1, "num_threads": 1, "optimizer": {"name": "adamw"}, "seed": 5,
    "loss": {"name": "weighted_cross_entropy", "lr": 0.0001, "weighted": true,
             "weight_upper_limit": 20.0, "weight_cumulative": false},
    "router_balancing": false, "router_balance_strength": null,
    "router_freeze_after_epochs": 0, "router_lr_multiplier": 0.0,
    "router_lr_multiplier_after_epochs": null,
    "model": {"name": "pretrained_vit_moe_head", "num_classes": 3, "pretrained": true,
              "num_experts": 4, "prototype_ema": 0.99, "router_temperature": 0.05,
              "freeze_encoder": true, "use_attraction": true, "use_repulsion": true,
              "use_consistency": false, "use_global_classification": false,
              "loss_weights": {"attraction": 1.0, "repulsion": 1.0, "consistency": 0.0,
                               "classification": 0.0}}})");
  j["dataset_root"] = root.string();
  j["weights_dir"] = (dir_ / "weights").string();
  j["results_dir"] = (dir_ / "results").string();
  j["log_dir"] = (dir_ / "logs").string();
  config::RunConfig c = config::resolve_run_config(j, name_catalog());
  c.config_name = "moeHead";
  const RunResult r = run_experiment(c);
  const std::string log = text_of(r.log_file);
  // The ViT's 150 tensors (patch embedding 2, CLS, positions, 12 blocks x 12, final norm 2),
  // and the 4 heads (weight, bias) as copies of the file's head (3 classes, as the fixture's);
  // the prototypes are the model's own.
  EXPECT_NE(log.find("[model] pretrained " + (dir_ / "weights" / "vit_small.pt").string() +
                     ": matched 158 of 159 model tensors; missing 1 (prototypes); unexpected 0; "
                     "shape mismatch 0"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("[model] upcycled 8 expert tensors"), std::string::npos) << log;
  EXPECT_NE(log.find("; resampled 1 (pos_embed 14x14 -> 2x2)"), std::string::npos) << log;
  const json recorded = read_json(r.run_json)["run"]["config"]["model"];
  EXPECT_EQ(recorded["name"], "vit_prototype_heads");
  EXPECT_EQ(recorded["embed_dim"], 384);
  EXPECT_EQ(recorded["ema_alpha"], 1.0);
  EXPECT_EQ(recorded["router_temperature"], 0.05);
  EXPECT_EQ(recorded["head_mixing"], "selected");
  EXPECT_EQ(recorded["freeze_backbone"], false);
  // Every training and test image went to exactly one head.
  const io::RunRecord stored = io::read_run_record(r.run_json.string());
  ASSERT_EQ(stored.epochs.size(), 4u);
  for (const io::EpochRecord& e : stored.epochs) {
    const std::vector<int64_t>& usage = e.expert_usage.at("heads");
    ASSERT_EQ(usage.size(), 4u);
    int64_t trained = 0;
    for (int64_t n : usage) trained += n;
    EXPECT_GT(trained, 0);
    for (const io::EvalRecord& v : e.eval) {
      int64_t tested = 0;
      for (int64_t n : v.expert_usage.at("heads")) tested += n;
      int64_t samples = 0;
      for (const auto& row : v.confusion) {
        for (int64_t n : row) samples += n;
      }
      EXPECT_EQ(tested, samples) << v.domain;
    }
  }
}
#endif

TEST_F(ExperimentTest, TensorBoardLoggerWritesAnEventPerEpoch) {
  config::RunConfig c = tiny_config();
  const RunResult plain = run_experiment(c);
  EXPECT_FALSE(fs::exists(plain.run_json.parent_path() / "tensorboard")) << "only when asked";
  c.loggers = {"csv", "tensorboard"};
  const RunResult r = run_experiment(c);
  const fs::path dir = r.run_json.parent_path() / "tensorboard";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) files.push_back(entry.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("events.out.tfevents.", 0), 0u);
  std::ifstream in(files[0], std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Walk the TFRecord framing (tensorboard_test checks the CRCs and the protobuf fields).
  std::size_t records = 0;
  for (std::size_t at = 0; at < bytes.size(); ++records) {
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= uint64_t(uint8_t(bytes.at(at + i))) << (8 * i);
    at += 8 + 4 + length + 4;
    ASSERT_LE(at, bytes.size());
  }
  EXPECT_EQ(records, 1u + 6u) << "the version record, then one per epoch";
  for (const char* tag : {"train/loss", "eval/mean_acc_seen", "eval/acc/d0", "eval/acc/d2"}) {
    EXPECT_NE(bytes.find(tag), std::string::npos) << tag;
  }
}

TEST_F(ExperimentTest, NotifyPostsTheOutcomeUnlessABatchStartedTheRun) {
  {
    testing_support::OneShotHttpServer server(204);
    config::RunConfig c = tiny_config();
    c.notify.webhook_url = server.url("/api/webhooks/7/secret");
    const RunResult r = run_experiment(c);
    const std::string request = server.stop();
    EXPECT_EQ(request.rfind("POST /api/webhooks/7/secret ", 0), 0u) << request;
    const json body = json::parse(request.substr(request.find("\r\n\r\n") + 4));
    const std::string text = body["content"];
    EXPECT_EQ(text.rfind("moedil run " + r.run_id + " (tiny) completed: ACC ", 0), 0u) << text;
    EXPECT_EQ(body["moedil"]["status"], "completed");
    EXPECT_EQ(body["moedil"]["acc"], r.record.metrics->acc);
  }
  {
    // Only the outcomes listed send.
    testing_support::OneShotHttpServer server(204);
    config::RunConfig c = tiny_config();
    c.notify.webhook_url = server.url("/hook");
    c.notify.on = {"failed"};
    run_experiment(c);
    EXPECT_EQ(server.stop(), "");
  }
  {
    // A run of a batch leaves it to the batch.
    testing_support::OneShotHttpServer server(204);
    config::RunConfig c = tiny_config();
    c.notify.webhook_url = server.url("/hook");
    ::setenv("MOEDIL_BATCH_RUN", "1", 1);
    run_experiment(c);
    ::unsetenv("MOEDIL_BATCH_RUN");
    EXPECT_EQ(server.stop(), "");
  }
  // Nobody listening: the run completes all the same.
  config::RunConfig c = tiny_config();
  c.notify.webhook_url = "http://127.0.0.1:1/hook";
  EXPECT_EQ(run_experiment(c).record.run.status, "completed");
}

TEST_F(ExperimentTest, BadInputFailsBeforeAnyRunDirectoryExists) {
  config::RunConfig missing = tiny_config(R"({"dataset": "fashion_mnist"})");
  missing.dataset_root = (dir_ / "nowhere").string();
  try {
    run_experiment(missing);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find((dir_ / "nowhere").string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("dataset-fashion-mnist"), std::string::npos);
  }
  // 8x8 images cannot be cut into 3x3 patches.
  EXPECT_THROW(run_experiment(tiny_config(R"({"model": {"patch_size": 3}})")), ConfigError);
  // 3 synthetic domains cannot be grouped into 2 partitions.
  EXPECT_THROW(run_experiment(tiny_config(R"({"num_partitions": 2})")), ConfigError);
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(ExperimentTest, Cifar10FixtureWithNoiseDomainsAndTheDatasetsOwnTestSet) {
  // The binary CIFAR-10 layout: five train batches and a test batch of 8 records each.
  const fs::path root = dir_ / "cifar10";
  fs::create_directories(root);
  auto write_batch = [&](const std::string& name, int seed) {
    std::ofstream out(root / name, std::ios::binary);
    for (int r = 0; r < 8; ++r) {
      const auto label = static_cast<char>(r % 2);  // two classes: dark and bright images
      out.put(label);
      for (int p = 0; p < 3072; ++p) {
        out.put(static_cast<char>(label ? 200 + (p + seed) % 40 : 20 + (p * seed) % 40));
      }
    }
  };
  for (int b = 1; b <= 5; ++b) write_batch("data_batch_" + std::to_string(b) + ".bin", b);
  write_batch("test_batch.bin", 9);
  const config::RunConfig c = tiny_config(R"({
      "dataset": "cifar10", "mini_dataset": 0, "num_partitions": 2, "test_split": "dataset",
      "partition": {"type": "noise", "levels": [0.0, 0.2]},
      "augmentation": {"random_crop_padding": 2, "horizontal_flip": true},
      "model": {"name": "vit", "patch_size": 8}})");
  config::RunConfig with_root = c;
  with_root.dataset_root = root.string();
  const json j = read_json(run_experiment(with_root).run_json);
  EXPECT_EQ(j["run"]["status"], "completed");
  EXPECT_EQ(j["domains"], json::array({"noise0", "noise0.2"}));
  for (const auto& e : j["epochs"]) {
    for (const auto& v : e["eval"]) {
      int64_t total = 0;
      for (const auto& row : v["confusion"]) {
        for (const auto& cell : row) total += cell.get<int64_t>();
      }
      EXPECT_EQ(total, 8);  // exactly the test batch's records
    }
  }
}

TEST(ResolveDevice, CpuAndUnavailableCuda) {
  EXPECT_EQ(resolve_device("cpu"), c10::Device(c10::kCPU));
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(resolve_device("auto"), c10::Device(c10::kCPU));
    EXPECT_THROW(resolve_device("cuda:0"), ConfigError);
  } else {
    EXPECT_EQ(resolve_device("auto"), c10::Device(c10::kCUDA, 0));
  }
}

TEST(ResolveThreads, ZeroMeansAllCores) {
  EXPECT_EQ(resolve_num_threads(3), 3);
  EXPECT_EQ(resolve_num_threads(0),
            static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency())));
}

}  // namespace
}  // namespace moedil::train
