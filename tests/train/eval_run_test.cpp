#include "moedil/train/eval_run.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <ATen/ATen.h>

#include "moedil/common/error.h"
#include "moedil/config/resolve.h"
#include "moedil/data/batching.h"
#include "moedil/data/registry.h"
#include "moedil/train/experiment.h"

namespace moedil::train {
namespace {

namespace fs = std::filesystem;

/// The resolved config of `j` named "tiny", writing results and logs below `dir`.
config::RunConfig tiny_config(nlohmann::json j, const fs::path& dir) {
  j["results_dir"] = (dir / "results").string();
  j["log_dir"] = (dir / "logs").string();
  config::RunConfig c = config::resolve_run_config(j, name_catalog());
  c.config_name = "tiny";
  return c;
}

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
  const config::RunConfig c = tiny_config(j, dir);
  const RunResult run = run_experiment(c);
  const fs::path run_dir = run.run_json.parent_path();

  const RunEvaluation ev = evaluate_run(run_dir, {});
  ASSERT_EQ(ev.eval.size(), 3u);
  EXPECT_EQ(ev.epochs_trained, 3);
  std::vector<double> acc;
  for (const auto& v : ev.eval) acc.push_back(v.acc);
  EXPECT_EQ(acc, run.record.r_matrix.back());
  EXPECT_EQ(ev.recorded_acc, run.record.r_matrix.back());
  EXPECT_EQ(ev.eval[1].confusion,
            io::read_run_record(run.run_json.string()).epochs.back().eval[1].confusion);
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

// Reads a .npy file the way numpy.load does for the types moedil writes: the header's descr
// and shape, then the raw little-endian data.
at::Tensor read_npy(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8)) << path;
  const std::size_t len = static_cast<unsigned char>(bytes[8]) |
                          (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
  const std::string dict = bytes.substr(10, len);
  EXPECT_EQ((10 + len) % 64, 0u);
  const std::size_t open = dict.find("'shape': (") + 10;
  const std::string dims = dict.substr(open, dict.find(')', open) - open);
  std::vector<int64_t> shape;
  std::stringstream ds(dims);
  for (std::string item; std::getline(ds, item, ',');) {
    if (item.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(item));
  }
  const bool is_float = dict.find("'descr': '<f4'") != std::string::npos;
  EXPECT_TRUE(is_float || dict.find("'descr': '<i8'") != std::string::npos) << dict;
  at::Tensor t = at::empty(shape, is_float ? at::kFloat : at::kLong);
  EXPECT_EQ(bytes.size() - 10 - len, static_cast<std::size_t>(t.numel() * t.element_size())) << path;
  std::memcpy(t.data_ptr(), bytes.data() + 10 + len, bytes.size() - 10 - len);
  return t;
}

// moedil eval --dump: the arrays agree with each other, with the dataset and with eval.json.
TEST(EvalRun, DumpWritesWhatTheModelSawAndSaidAsNpyFiles) {
  const fs::path dir = fs::temp_directory_path() /
                       ("moedil_eval_dump_test_" + std::to_string(std::random_device{}()));
  nlohmann::json j = nlohmann::json::parse(R"({
    "dataset": "synthetic", "mini_dataset": 240, "num_partitions": 3,
    "partition": {"type": "domainIncremental"}, "batch_size": 16, "eval_batch_size": 7,
    "num_threads": 1, "epochs_per_domain": 1,
    "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
              "moe_layer_indices": [1], "moe_num_unshared_experts": 4, "moe_top_k": 1,
              "moe_routing_granularity": "sample"},
    "seeds": {"global": 4}})");
  const config::RunConfig c = tiny_config(j, dir);
  const RunResult run = run_experiment(c);
  const fs::path run_dir = run.run_json.parent_path();
  const data::Dataset dataset = data::make_dataset(c);
  const data::Normalizer normalizer(dataset.mean, dataset.stddev, at::kCPU);

  const EvalDump dump{dir / "dump", true};
  const RunEvaluation ev = evaluate_run(run_dir, {}, {}, &dump);
  std::ifstream index_in(dump.dir / "index.json");
  const nlohmann::json index = nlohmann::json::parse(index_in);
  ASSERT_EQ(index["domains"].size(), 3u);
  EXPECT_EQ(index["moe_layers"][0]["name"], "blocks.1.moe");
  for (std::size_t d = 0; d < 3; ++d) {
    SCOPED_TRACE("domain " + std::to_string(d));
    const fs::path sub = dump.dir / index["domains"][d]["dir"].get<std::string>();
    const at::Tensor logits = read_npy(sub / "logits.npy");
    const at::Tensor labels = read_npy(sub / "labels.npy");
    const at::Tensor predictions = read_npy(sub / "predictions.npy");
    const at::Tensor rows = read_npy(sub / "rows.npy");
    const at::Tensor inputs = read_npy(sub / "inputs.npy");
    const at::Tensor experts = read_npy(sub / "experts.blocks.1.moe.npy");
    const at::Tensor gates = read_npy(sub / "gates.blocks.1.moe.npy");
    const int64_t n = rows.size(0);
    ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{n, dataset.num_classes}));
    ASSERT_EQ(inputs.sizes(), (std::vector<int64_t>{n, dataset.channels(), dataset.height(),
                                                     dataset.width()}));
    EXPECT_TRUE(at::equal(predictions, logits.argmax(1)));
    EXPECT_TRUE(at::equal(labels, dataset.labels.index_select(0, rows)));
    EXPECT_TRUE(at::allclose(inputs, normalizer(dataset.images.index_select(0, rows))));
    EXPECT_DOUBLE_EQ(predictions.eq(labels).sum().item<double>() / static_cast<double>(n),
                     ev.eval[d].acc);
    // Top-1 per image: one expert per sample, its gate the only non-zero one of the row.
    ASSERT_EQ(gates.sizes(), (std::vector<int64_t>{n, 4}));
    EXPECT_TRUE(at::equal(gates.gt(0).sum(1), at::ones({n}, at::kLong)));
    EXPECT_TRUE(at::equal(gates.argmax(1), experts));
    const std::vector<int64_t>& usage = ev.eval[d].expert_usage.at("blocks.1.moe");
    const at::Tensor counts = at::bincount(experts, {}, 4);
    for (int64_t e = 0; e < 4; ++e) EXPECT_EQ(counts[e].item<int64_t>(), usage[e]);
  }
  // A fixed expert shows in the routing dump.
  const EvalDump fixed_dump{dir / "fixed", false};
  evaluate_run(run_dir, {}, {"blocks.1.moe:3"}, &fixed_dump);
  const at::Tensor fixed = read_npy(fixed_dump.dir / "domain0" / "experts.blocks.1.moe.npy");
  EXPECT_TRUE(at::equal(fixed, at::full_like(fixed, 3)));
  EXPECT_FALSE(fs::exists(fixed_dump.dir / "domain0" / "inputs.npy"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moedil::train
