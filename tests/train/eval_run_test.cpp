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
              "moe_layer_indices": [1], "moe_num_unshared_experts": 3},
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

  // Only device and threads may change; a run without a checkpoint cannot be evaluated.
  EXPECT_THROW(evaluate_run(run_dir, {"batch_size=4"}), UsageError);
  fs::remove(run_dir / "checkpoint.pt");
  EXPECT_THROW(evaluate_run(run_dir, {}), DataError);
  EXPECT_THROW(evaluate_run(dir / "nothing", {}), DataError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moedil::train
