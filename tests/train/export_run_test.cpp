// moedil export: a run's final weights as a torch.save state dict under the chosen names.
#include "moedil/train/export_run.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <ATen/ATen.h>

#include "moedil/common/error.h"
#include "moedil/config/resolve.h"
#include "moedil/model/weights_file.h"
#include "moedil/train/experiment.h"

namespace moedil::train {
namespace {

namespace fs = std::filesystem;

class ExportRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_export_run_test_" + std::to_string(std::random_device{}()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  /// A finished 1-epoch run of `model` on the 3 synthetic domains; its run directory.
  fs::path run(const std::string& model) {
    nlohmann::json j = nlohmann::json::parse(R"({
      "dataset": "synthetic", "mini_dataset": 120, "num_partitions": 3,
      "partition": {"type": "domainIncremental"}, "batch_size": 16, "epochs_per_domain": 1,
      "num_threads": 1, "seeds": {"global": 2}})");
    j["model"] = nlohmann::json::parse(model);
    j["results_dir"] = (dir_ / "results").string();
    j["log_dir"] = (dir_ / "logs").string();
    config::RunConfig c = config::resolve_run_config(j, name_catalog());
    c.config_name = "export";
    return run_experiment(c).run_json.parent_path();
  }
  fs::path dir_;
};

TEST_F(ExportRunTest, TorchvisionNamesHoldTheCheckpointsTensors) {
  const fs::path run_dir = run(R"({"name": "vit", "patch_size": 4, "embed_dim": 8, "depth": 2,
                                   "num_heads": 2})");
  const model::NamedTensors saved = model::read_weights_file((run_dir / "checkpoint.pt").string());
  const fs::path file = dir_ / "vit.pt";
  const ExportResult result = export_run(run_dir, file, "torchvision");
  EXPECT_EQ(result.model, "vit");
  EXPECT_EQ(result.tensors, saved.size());
  // moedil's reader takes the file back (torch.save format), naming it torchvision's.
  const model::NamedTensors exported = model::read_weights_file(file.string());
  ASSERT_EQ(exported.size(), saved.size());
  ASSERT_TRUE(exported.count("encoder.layers.encoder_layer_1.self_attention.in_proj_weight"));
  EXPECT_TRUE(at::equal(exported.at("encoder.layers.encoder_layer_1.self_attention.in_proj_weight"),
                        saved.at("blocks.1.attn.qkv.weight")));
  EXPECT_TRUE(at::equal(exported.at("heads.head.bias"), saved.at("head.bias")));
  // Under moedil's names the file holds the checkpoint's tensors as they are.
  export_run(run_dir, dir_ / "same.pt", "moedil");
  const model::NamedTensors same = model::read_weights_file((dir_ / "same.pt").string());
  ASSERT_EQ(same.size(), saved.size());
  for (const auto& [name, tensor] : saved) EXPECT_TRUE(at::equal(same.at(name), tensor)) << name;
}

TEST_F(ExportRunTest, NamingsAModelHasNoCounterpartInAreRefused) {
  const fs::path run_dir = run(R"({"name": "vit_moe", "patch_size": 4, "embed_dim": 8,
                                   "depth": 2, "num_heads": 2, "moe_layer_indices": [1]})");
  try {
    export_run(run_dir, dir_ / "x.pt", "torchvision");
    FAIL() << "an MoE model was exported under torchvision's names";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("vit_moe has no torchvision counterpart"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(export_run(run_dir, dir_ / "x.pt", "keras"), UsageError);
  EXPECT_FALSE(fs::exists(dir_ / "x.pt"));
  EXPECT_THROW(export_run(dir_ / "nothing", dir_ / "x.pt", "moedil"), DataError);
}

}  // namespace
}  // namespace moedil::train
