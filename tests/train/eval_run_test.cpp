#include "moedil/train/eval_run.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "moedil/common/error.h"
#include "moedil/config/resolve.h"
#include "moedil/train/experiment.h"

namespace moedil::train {
namespace {

namespace fs = std::filesystem;

TEST(EvalRun, SavedWeightsReproduceTheRunsFinalAccuraciesExactly) {
  const fs::path dir = fs::temp_directory_path() /
                       ("moedil_eval_run_test_" + std::to_string(std::random_device{}()));
  nlohmann::json j = nlohmann::json::parse(R"({
    "dataset": "synthetic", "mini_dataset": 240, "num_partitions": 3,
    "partition": {"type": "domainIncremental"}, "batch_size": 16, "num_threads": 1,
    "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
              "moe_layer_indices": [1], "moe_num_unshared_experts": 3,
              "moe_routing_granularity": "token"},
    "seeds": {"global": 4}})");
  j["results_dir"] = (dir / "results").string();
  j["log_dir"] = (dir / "logs").string();
  config::RunConfig c = config::resolve_run_config(j, name_catalog());
  c.config_name = "tiny";
  const RunResult run = run_experiment(c);
  const fs::path run_dir = run.run_json.parent_path();

  const RunEvaluation ev = evaluate_run(run_dir, {});
  ASSERT_EQ(ev.eval.size(), 3u);
  EXPECT_EQ(ev.epochs_trained, 3);
  std::vector<double> acc;
  for (const auto& v : ev.eval) acc.push_back(v.acc);
  EXPECT_EQ(acc, run.record.r_matrix.back());
  EXPECT_EQ(ev.recorded_acc, run.record.r_matrix.back());
  EXPECT_EQ(ev.eval[1].confusion, run.record.epochs.back().eval[1].confusion);
  EXPECT_TRUE(fs::exists(run_dir / "eval.json"));

  // Fixing expert 2 of the MoE layer: evaluation routes every row there and nowhere else.
  const RunEvaluation fixed = evaluate_run(run_dir, {}, {"blocks.1.moe:2"});
  EXPECT_EQ(fixed.written.filename(), "eval_fixed_blocks.1.moe_2.json");
  for (const auto& v : fixed.eval) {
    const std::vector<int64_t>& counts = v.expert_usage.at("blocks.1.moe");
    ASSERT_EQ(counts.size(), 3u);
    EXPECT_EQ(counts[0], 0);
    EXPECT_EQ(counts[1], 0);
    EXPECT_GT(counts[2], 0);
  }
  // Normal routing used more than one expert, so fixing one changes the outcome.
  int64_t experts_used = 0;
  for (int64_t n : ev.eval[0].expert_usage.at("blocks.1.moe")) experts_used += n > 0 ? 1 : 0;
  EXPECT_GT(experts_used, 1);
  EXPECT_THROW(evaluate_run(run_dir, {}, {"blocks.0.moe:1"}), UsageError);  // not an MoE layer
  EXPECT_THROW(evaluate_run(run_dir, {}, {"blocks.1.moe:3"}), UsageError);  // 3 experts: 0..2
  EXPECT_THROW(evaluate_run(run_dir, {}, {"blocks.1.moe"}), UsageError);

  // Only device and threads may change; a run without a checkpoint cannot be evaluated.
  EXPECT_THROW(evaluate_run(run_dir, {"batch_size=4"}), UsageError);
  fs::remove(run_dir / "checkpoint.pt");
  EXPECT_THROW(evaluate_run(run_dir, {}), DataError);
  EXPECT_THROW(evaluate_run(dir / "nothing", {}), DataError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moedil::train
