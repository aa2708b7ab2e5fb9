#include "moedil/batch/run_names.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "moedil/batch/runner.h"

namespace moedil::batch {
namespace {
namespace fs = std::filesystem;

class RunNames : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("moedil_run_names_test_" + std::to_string(rd()));
    fs::create_directories(dir_);
    write("quickstart.jsonc",
          "// a config\n{\"dataset\": \"synthetic\", \"model\": {\"name\": \"vit_moe\", "
          "\"moe_top_k\": 1}, \"seeds\": {\"global\": 0}}\n");
    write("other.jsonc", "{\"dataset\": \"synthetic\"}\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::vector<PlannedRun> plan(const std::string& metaconfig) {
    write("meta.jsonc", metaconfig);
    return expand(load_metaconfig(dir_ / "meta.jsonc"));
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(RunNames, AMetaconfigSweepOfTopKIsNamedByTheKeyItChanges) {
  // quickstart.jsonc with model.moe_top_k 1 and 2 x seeds 1, 2 (also on other devices and
  // threads, which do not change the experiment); other.jsonc once per seed.
  const auto p = plan("{\"configs\": [{\"path\": \"" + path("quickstart.jsonc") +
                      "\", \"overrides\": {\"model.moe_top_k\": 1, \"device\": \"cpu\"}},"
                      " {\"path\": \"" + path("quickstart.jsonc") +
                      "\", \"overrides\": {\"model.moe_top_k\": 2, \"num_threads\": 3}},"
                      " \"" + path("other.jsonc") + "\"],"
                      " \"seeds\": {\"global\": [1, 2]}}");
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(planned_group_names(p),
            (std::vector<std::string>{"quickstart[model.moe_top_k=1]",
                                      "quickstart[model.moe_top_k=1]",
                                      "quickstart[model.moe_top_k=2]",
                                      "quickstart[model.moe_top_k=2]", "other", "other"}));
  const nlohmann::json c = planned_config(p[2]);
  EXPECT_EQ(c["model"]["moe_top_k"], 2);
  EXPECT_EQ(c["num_threads"], 3);
  EXPECT_EQ(c["dataset"], "synthetic");
}

TEST_F(RunNames, FineTuneAndReplayOfOneFileAreTwoNames) {
  const auto p = plan("{\"configs\": [\"" + path("other.jsonc") + "\", {\"path\": \"" +
                      path("other.jsonc") +
                      "\", \"overrides\": [\"replay.enabled=true\"]}]}");
  EXPECT_EQ(planned_group_names(p), (std::vector<std::string>{"other[replay.enabled=false]",
                                                              "other[replay.enabled=true]"}));
}

TEST_F(RunNames, AConfigThatNoLongerResolvesKeepsItsPlainName) {
  const auto p = plan("{\"configs\": [\"" + path("other.jsonc") + "\"]}");
  write("other.jsonc", "{\"dataset\": ");
  EXPECT_TRUE(planned_config(p[0]).is_null());
  EXPECT_EQ(planned_group_names(p), (std::vector<std::string>{"other"}));
}

TEST_F(RunNames, TheBatchSummaryShowsTheNames) {
  RunOutcome a;
  a.key = "quickstart-g0-0123abcd";
  a.config = "configs/quickstart.jsonc";
  a.name = "quickstart[model.moe_top_k=2]";
  a.status = "completed";
  RunOutcome b = a;
  b.name.clear();  // no name: the config path as before
  const std::string summary = format_summary({a, b});
  EXPECT_NE(summary.find("quickstart-g0-0123abcd  quickstart[model.moe_top_k=2]"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("configs/quickstart.jsonc"), std::string::npos) << summary;
}

}  // namespace
}  // namespace moedil::batch
