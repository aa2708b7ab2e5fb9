#include "moedil/io/experiment_group.h"

#include <gtest/gtest.h>

namespace moedil::io {
namespace {

using json = nlohmann::json;

/// A resolved config as run.json stores it (a few of its keys).
json resolved(int top_k, int seed, bool replay = false, const std::string& device = "cpu") {
  return {{"dataset", "fashion_mnist"},
          {"model", {{"name", "vit_moe"}, {"moe_top_k", top_k}, {"mlp_ratio", 2.0}}},
          {"optimizer", {{"name", "adamw"}, {"lr", 0.001}}},
          {"replay", {{"enabled", replay}, {"capacity", 1000}}},
          {"partition", {{"type", "rotate"}, {"angles", {0, 30}}}},
          {"seeds", {{"global", seed}, {"loader", seed + 100}}},
          {"device", device},
          {"num_threads", seed},
          {"results_dir", "results/" + std::to_string(seed)},
          {"log_dir", "logs"},
          {"dataset_root", ""},
          {"cache_dir", ""},
          {"notify", {{"webhook_url", "https://example.org/hook/" + std::to_string(seed)}}}};
}

TEST(ExperimentGroup, SettingsAreTheFlattenedConfigWithoutPlacementKeys) {
  const auto s = experiment_settings(resolved(2, 7));
  EXPECT_EQ(s.at("model.moe_top_k"), "2");
  EXPECT_EQ(s.at("model.name"), "vit_moe");
  EXPECT_EQ(s.at("model.mlp_ratio"), "2.0");
  EXPECT_EQ(s.at("optimizer.lr"), "0.001");
  EXPECT_EQ(s.at("replay.enabled"), "false");
  EXPECT_EQ(s.at("partition.angles"), "[0,30]");
  for (const std::string& key : placement_keys()) {
    for (const auto& kv : s) EXPECT_NE(kv.first.rfind(key, 0), 0u) << kv.first;
  }
  EXPECT_EQ(s.count("seeds.global"), 0u);
  EXPECT_EQ(s.count("notify.webhook_url"), 0u) << "where a run reports is no experiment setting";
  EXPECT_TRUE(experiment_settings(json()).empty());
  // A string that would read as another value keeps its quotes: "2" is not 2.
  EXPECT_EQ(experiment_settings({{"a", "2"}, {"b", 2}, {"c", ""}, {"d", "(absent)"}}),
            (std::map<std::string, std::string>{
                {"a", "\"2\""}, {"b", "2"}, {"c", "\"\""}, {"d", "\"(absent)\""}}));
}

TEST(ExperimentGroup, AMetaconfigSweepOfTopKIsTwoGroupsOfTwoSeeds) {
  // What a metaconfig listing quickstart.jsonc with model.moe_top_k 1 and 2, seeds 1 and 2,
  // runs on different devices and threads, stores in its four run.json files.
  const std::vector<GroupInput> runs = {{"quickstart", resolved(1, 1, false, "cpu")},
                                        {"quickstart", resolved(1, 2, false, "cuda:0")},
                                        {"quickstart", resolved(2, 1, false, "cuda:1")},
                                        {"quickstart", resolved(2, 2, false, "cpu")}};
  const ExperimentGroups g = group_experiments(runs);
  EXPECT_EQ(g.names, (std::vector<std::string>{"quickstart[model.moe_top_k=1]",
                                               "quickstart[model.moe_top_k=2]"}));
  EXPECT_EQ(g.group_of, (std::vector<std::size_t>{0, 0, 1, 1}));
  EXPECT_EQ(g.varied_keys, (std::vector<std::string>{"model.moe_top_k"}));
  EXPECT_EQ(g.varied_values, (std::vector<std::vector<std::string>>{{"1"}, {"1"}, {"2"}, {"2"}}));
}

TEST(ExperimentGroup, FineTuneAndReplayRunsOfOneFileAreTwoGroups) {
  const ExperimentGroups g = group_experiments({{"rot", resolved(1, 1, false)},
                                                {"rot", resolved(1, 1, true)},
                                                {"rot", resolved(1, 2, true)}});
  EXPECT_EQ(g.names,
            (std::vector<std::string>{"rot[replay.enabled=false]", "rot[replay.enabled=true]"}));
  EXPECT_EQ(g.group_of, (std::vector<std::size_t>{0, 1, 1}));
}

TEST(ExperimentGroup, OneEffectiveConfigKeepsItsPlainNameAndOnlyItsOwnKeysShow) {
  // "a" has one experiment (seeds and placement differ); "b" varies two keys.
  json b_lr = resolved(1, 1);
  b_lr["optimizer"]["lr"] = 0.01;
  const ExperimentGroups g = group_experiments({{"a", resolved(1, 1, false, "cpu")},
                                                {"b", resolved(1, 1)},
                                                {"a", resolved(1, 9, false, "cuda")},
                                                {"b", b_lr},
                                                {"b", resolved(2, 1)}});
  EXPECT_EQ(g.names,
            (std::vector<std::string>{"a", "b[model.moe_top_k=1,optimizer.lr=0.001]",
                                      "b[model.moe_top_k=1,optimizer.lr=0.01]",
                                      "b[model.moe_top_k=2,optimizer.lr=0.001]"}));
  EXPECT_EQ(g.group_of, (std::vector<std::size_t>{0, 1, 0, 2, 3}));
  EXPECT_EQ(g.varied_keys, (std::vector<std::string>{"model.moe_top_k", "optimizer.lr"}));
  // Every run has its own value of every varied key.
  EXPECT_EQ(g.varied_values[0], (std::vector<std::string>{"1", "0.001"}));
  EXPECT_EQ(g.varied_values[3], (std::vector<std::string>{"1", "0.01"}));
}

TEST(ExperimentGroup, AKeyARunLacksDoesNotSplitItOff) {
  // A run.json written before replay.capacity existed pools with runs that have one value of
  // it; once the key has two values, the run without it shows "(absent)".
  json old_run = resolved(1, 1);
  old_run["replay"].erase("capacity");
  const ExperimentGroups one = group_experiments({{"c", old_run}, {"c", resolved(1, 2)}});
  EXPECT_EQ(one.names, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(one.varied_keys.empty());
  json big = resolved(1, 3);
  big["replay"]["capacity"] = 5000;
  const ExperimentGroups three =
      group_experiments({{"c", old_run}, {"c", resolved(1, 2)}, {"c", big}});
  EXPECT_EQ(three.names, (std::vector<std::string>{"c[replay.capacity=(absent)]",
                                                   "c[replay.capacity=1000]",
                                                   "c[replay.capacity=5000]"}));
  EXPECT_EQ(three.varied_values[0], (std::vector<std::string>{""}));
}

TEST(ExperimentGroup, RunsWithoutAConfigJoinThePlainName) {
  const ExperimentGroups g = group_experiments(
      {{"a", resolved(1, 1)}, {"a", json()}, {"b", resolved(1, 1)}, {"b", resolved(2, 1)},
       {"b", json()}});
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b[model.moe_top_k=1]",
                                               "b[model.moe_top_k=2]", "b"}));
  EXPECT_EQ(g.group_of, (std::vector<std::size_t>{0, 0, 1, 2, 3}));
  EXPECT_TRUE(group_experiments({}).names.empty());
}

}  // namespace
}  // namespace moedil::io
