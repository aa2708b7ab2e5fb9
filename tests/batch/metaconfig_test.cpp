#include "moedil/batch/metaconfig.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "moedil/common/error.h"

namespace moedil::batch {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

Metaconfig parse_ok(const json& j) {
  std::vector<std::string> problems;
  Metaconfig m = parse_metaconfig(j, "metaconfigs/sweep.jsonc", problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  return m;
}

std::vector<std::string> problems_of(const json& j) {
  std::vector<std::string> problems;
  parse_metaconfig(j, "m.jsonc", problems);
  return problems;
}

TEST(Metaconfig, ExpandsConfigsTimesSeedGroupsWithStableKeys) {
  const Metaconfig m = parse_ok(json::parse(R"({
    "configs": ["configs/a.jsonc", {"path": "configs/b.jsonc", "overrides": {"model.moe_top_k": 2}}],
    "seeds": {"loader": [5, "random"], "global": [1, 2]},
    "overrides": ["epochs_per_domain=2"],
    "results_dir": "out"})"));
  EXPECT_EQ(m.name, "sweep");
  ASSERT_EQ(m.num_groups, 2u);
  ASSERT_EQ(m.seeds.size(), 2u);
  EXPECT_EQ(m.seeds[0].first, "global");  // seed_kinds() order, not the file's
  EXPECT_EQ(m.seeds[1].second[1], std::nullopt);

  const auto plan = expand(m);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].config_path, "configs/a.jsonc");
  EXPECT_EQ(plan[1].group, 1u);
  EXPECT_EQ(plan[2].config_path, "configs/b.jsonc");
  EXPECT_EQ(plan[3].index, 3u);
  EXPECT_EQ(plan[2].overrides, (std::vector<std::string>{"epochs_per_domain=2", "model.moe_top_k=2"}));
  std::set<std::string> keys;
  for (const auto& r : plan) {
    keys.insert(r.key);
    EXPECT_EQ(r.run_dir, fs::path("out") / r.config_stem / r.key);
  }
  EXPECT_EQ(keys.size(), 4u);
  EXPECT_EQ(plan[0].key.substr(0, 5), "a-g0-");
  EXPECT_EQ(plan[3].key.substr(0, 5), "b-g1-");
  EXPECT_EQ(plan[0].key.size(), 5u + 8u);

  // The same metaconfig gives the same keys (a rerun finds its runs) ...
  EXPECT_EQ(expand(m)[1].key, plan[1].key);
  // ... a different seed or override gives another key; the results dir does not change it.
  json changed = json::parse(R"({"configs": ["configs/a.jsonc"], "seeds": {"global": [1, 3], "loader": [5, "random"]},
                                 "overrides": ["epochs_per_domain=2"]})");
  const auto plan2 = expand(parse_ok(changed));
  EXPECT_EQ(plan2[0].key, plan[0].key);
  EXPECT_NE(plan2[1].key, plan[1].key);
  EXPECT_EQ(plan2[0].run_dir, fs::path("results") / "a" / plan[0].key);
  changed["overrides"] = json::array({"epochs_per_domain=3"});
  EXPECT_NE(expand(parse_ok(changed))[0].key, plan[0].key);
}

TEST(Metaconfig, GridRunsEveryCombinationOfItsValues) {
  const Metaconfig m = parse_ok(json::parse(R"({
    "configs": ["configs/a.jsonc", {"path": "configs/b.jsonc", "overrides": ["batch_size=8"]}],
    "overrides": ["epochs_per_domain=2"],
    "grid": {"optimizer.lr": [0.001, 0.01, 0.1], "model.moe_top_k": [1, 2],
             "optimizer.name": ["adamw"]},
    "seeds": {"global": [1, 2]}})"));
  // 2 configs x 3 lrs x 2 top-ks x 1 optimizer, each in 2 seed groups.
  ASSERT_EQ(m.configs.size(), 12u);
  const auto plan = expand(m);
  ASSERT_EQ(plan.size(), 24u);
  // Keys sorted (model.moe_top_k, optimizer.lr, optimizer.name), the last varying fastest; the
  // grid after the global overrides and before the config's own.
  EXPECT_EQ(m.configs[0].overrides,
            (std::vector<std::string>{"epochs_per_domain=2", "model.moe_top_k=1",
                                      "optimizer.lr=0.001", "optimizer.name=\"adamw\""}));
  EXPECT_EQ(m.configs[1].overrides[2], "optimizer.lr=0.01");
  EXPECT_EQ(m.configs[3].overrides[1], "model.moe_top_k=2");
  EXPECT_EQ(m.configs[11].overrides,
            (std::vector<std::string>{"epochs_per_domain=2", "model.moe_top_k=2",
                                      "optimizer.lr=0.1", "optimizer.name=\"adamw\"",
                                      "batch_size=8"}));
  EXPECT_EQ(m.configs[11].path, "configs/b.jsonc");
  std::set<std::string> keys;
  for (const auto& r : plan) keys.insert(r.key);
  EXPECT_EQ(keys.size(), 24u) << "every run of the sweep has its own key and directory";

  EXPECT_EQ(problems_of(json::parse(R"({"configs": ["a.jsonc"], "grid": {"lr": []}})")),
            std::vector<std::string>{"grid.lr: expected a non-empty list of values"});
  EXPECT_FALSE(problems_of(json::parse(R"({"configs": ["a.jsonc"], "grid": [1, 2]})")).empty());
  const auto huge = problems_of(json::parse(R"({"configs": ["a.jsonc"], "grid": {
      "a": [1,2,3,4,5,6,7,8,9,10], "b": [1,2,3,4,5,6,7,8,9,10], "c": [1,2,3,4,5,6,7,8,9,10],
      "d": [1,2,3,4,5,6,7,8,9,10], "e": [1,2]}})"));
  ASSERT_EQ(huge.size(), 1u);
  EXPECT_NE(huge[0].find("more than 10000 combinations"), std::string::npos) << huge[0];
}

TEST(Metaconfig, NotifyNamesAWebhookAndTheOutcomesThatSendToIt) {
  const Metaconfig m = parse_ok(json::parse(R"({"configs": ["a.jsonc"],
      "notify": {"webhook_url": "https://discord.com/api/webhooks/1/x", "on": ["failed"]}})"));
  EXPECT_EQ(m.notify.webhook_url, "https://discord.com/api/webhooks/1/x");
  EXPECT_EQ(m.notify.on, std::vector<std::string>{"failed"});
  const Metaconfig all = parse_ok(json::parse(
      R"({"configs": ["a.jsonc"], "notify": {"webhook_url": "http://127.0.0.1:9/h"}})"));
  EXPECT_EQ(all.notify.on, (std::vector<std::string>{"completed", "failed", "interrupted"}));
  EXPECT_TRUE(parse_ok(json::parse(R"({"configs": ["a.jsonc"]})")).notify.webhook_url.empty());

  const auto bad = problems_of(json::parse(R"({"configs": ["a.jsonc"],
      "notify": {"webhook_url": "ftp://x", "on": ["complete"], "urls": 1}})"));
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_NE(bad[0].find("notify: unknown key 'urls'"), std::string::npos) << bad[0];
  EXPECT_EQ(bad[1], "notify.webhook_url: expected an http:// or https:// URL");
  EXPECT_NE(bad[2].find("did you mean 'completed'?"), std::string::npos) << bad[2];
}

TEST(Metaconfig, KeysAreFixedAcrossBuilds) {
  // A hard-coded key: changing the hash or its input silently orphans every existing result.
  const auto plan = expand(parse_ok(json::parse(R"({"configs": ["configs/a.jsonc"], "seeds": {"global": [1]}})")));
  EXPECT_EQ(plan[0].key, "a-g0-ceaf363d");
  EXPECT_EQ(fnv1a64(""), 14695981039346656037ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
}

TEST(Metaconfig, NoSeedsMeansOneRunPerConfig) {
  const auto plan = expand(parse_ok(json::parse(R"({"configs": ["x.jsonc"]})")));
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_TRUE(plan[0].seeds.empty());
  EXPECT_TRUE(seed_overrides(plan[0], [] { return int64_t{9}; }).empty());
}

TEST(Metaconfig, UnseededKindsAreDrawnOnce) {
  const auto plan = expand(parse_ok(json::parse(R"({"configs": ["x.jsonc"], "seeds": {"global": [0], "model": [4]}})")));
  int draws = 0;
  const auto sets = seed_overrides(plan[0], [&] { return int64_t{100 + draws++}; });
  // The kinds not listed are unseeded (the predecessor's meaning): they follow global.
  EXPECT_EQ(sets, (std::vector<std::string>{
                      "seeds.global=100", "seeds.model=4", "seeds.dataset=null",
                      "seeds.partition=null", "seeds.loader=null", "seeds.training=null",
                      "seeds.pretrain=null", "seeds.baseline=null", "seeds.replay=null"}));
  EXPECT_EQ(draws, 1);
  const int64_t s = draw_seed();
  EXPECT_GE(s, 1);
  EXPECT_LT(s, int64_t{1} << 31);
}

// The predecessor's metaconfigs list seeds at the top level, may use null, and leave kinds out:
// a kind left out was unseeded there (its runs replaced the config's seeds), so global is drawn
// and every other kind left out follows global.
TEST(Metaconfig, PredecessorSeedListsAtTheTopLevelWithUnlistedKindsUnseeded) {
  const Metaconfig m = parse_ok(json::parse(R"({"configs": ["x.jsonc"],
      "dataset": [7, 8], "partition": [42, null], "training": ["Random", 3]})"));
  ASSERT_EQ(m.num_groups, 2u);
  ASSERT_EQ(m.seeds.size(), 3u);
  EXPECT_EQ(m.seeds[0].first, "dataset");
  EXPECT_EQ(m.seeds[1].second[1], std::nullopt);  // null: drawn
  EXPECT_EQ(m.seeds[2].second[0], std::nullopt);  // "Random": drawn
  const auto plan = expand(m);
  ASSERT_EQ(plan.size(), 2u);
  int draws = 0;
  const auto sets = seed_overrides(plan[0], [&] { return int64_t{100 + draws++}; });
  EXPECT_EQ(sets, (std::vector<std::string>{
                      "seeds.global=100", "seeds.dataset=7", "seeds.partition=42",
                      "seeds.training=101", "seeds.loader=null", "seeds.model=null",
                      "seeds.pretrain=null", "seeds.baseline=null", "seeds.replay=null"}));
  // The run keys name the seeds as written (unlisted ones are not part of them), so the same
  // lists under "seeds" give the same runs.
  const auto same = expand(parse_ok(json::parse(R"({"configs": ["x.jsonc"],
      "seeds": {"dataset": [7, 8], "partition": [42, null], "training": ["Random", 3]}})")));
  EXPECT_EQ(same[1].key, plan[1].key);
  // moedil's own variant: the kinds left out keep the config's seeds.
  const auto kept = expand(parse_ok(json::parse(R"({"configs": ["x.jsonc"],
      "unlisted_seeds": "config", "dataset": [7]})")));
  EXPECT_EQ(seed_overrides(kept[0], [] { return int64_t{1}; }),
            std::vector<std::string>{"seeds.dataset=7"});
  const auto problems = problems_of(json::parse(R"({"configs": ["x.jsonc"], "model": [1],
      "seeds": {"model": [2]}, "unlisted_seeds": "keep", "loader": 5})"));
  ASSERT_EQ(problems.size(), 3u) << problems.front();
  EXPECT_EQ(problems[0], "model: seeds.model is listed too; list the kind once");
  EXPECT_EQ(problems[1], "loader: expected a non-empty list, one seed per group");
  EXPECT_NE(problems[2].find("unlisted_seeds: expected \"unseeded\""), std::string::npos);
}

// Config paths as the predecessor found them: from the current directory, then under the
// configs directory, with or without the extension.
TEST(Metaconfig, ConfigPathsAreFoundInTheConfigsDirAndWithoutExtension) {
  EXPECT_EQ(config_candidates("configs/a", "configs"),
            (std::vector<std::string>{"configs/a", "configs/a.jsonc", "configs/a.json",
                                      "configs/configs/a", "configs/configs/a.jsonc",
                                      "configs/configs/a.json"}));
  EXPECT_EQ(config_candidates("/abs/a.jsonc", "configs"), std::vector<std::string>{"/abs/a.jsonc"});
  const fs::path dir = fs::temp_directory_path() / ("moedil_meta_dirs_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "cfgs");
  std::ofstream(dir / "cfgs" / "a.jsonc") << "{}";
  std::ofstream(dir / "b.json") << "{}";
  std::ofstream(dir / "m.jsonc") << R"({"configs": [")" << (dir / "b").string()
                                 << R"(", "a", "a.jsonc", "missing"]})";
  std::vector<std::string> checked;
  const Metaconfig m = [&] {
    try {
      return load_metaconfig(dir / "m.jsonc",
                             [&](ConfigEntry& e, std::vector<std::string>&) {
                               checked.push_back(e.path);
                             },
                             dir / "cfgs");
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("config file 'missing' does not exist (tried missing, missing.jsonc, "
                          "missing.json, " + (dir / "cfgs" / "missing").string()),
                std::string::npos)
          << what;
      EXPECT_EQ(what.find("'a'"), std::string::npos) << what;
      return Metaconfig{};
    }
  }();
  EXPECT_TRUE(m.configs.empty());  // refused: one config is missing
  EXPECT_EQ(checked, (std::vector<std::string>{(dir / "b.json").string(),
                                               (dir / "cfgs" / "a.jsonc").string(),
                                               (dir / "cfgs" / "a.jsonc").string()}));
  fs::remove_all(dir);
}

TEST(Metaconfig, EveryProblemIsReported) {
  const auto problems = problems_of(json::parse(R"({
    "configs": ["a.jsonc", 3, {"pth": "b.jsonc"}],
    "seeds": {"global": [1, 2, 3], "loader": [1, 2], "modle": [1], "model": [-1, 1.5, "x"]},
    "result_dir": "x", "log_dir": ""})"));
  const auto has = [&](const std::string& needle) {
    for (const auto& p : problems) if (p.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("unknown metaconfig key 'result_dir'; did you mean 'results_dir'?"));
  EXPECT_TRUE(has("configs[1]: expected a path"));
  EXPECT_TRUE(has("configs[2]: unknown key 'pth'"));
  EXPECT_TRUE(has("configs[2].path: expected"));
  EXPECT_TRUE(has("seeds.loader: has 2 seeds but seeds.global has 3"));
  EXPECT_TRUE(has("seed kind 'modle'; did you mean 'model'?"));
  EXPECT_TRUE(has("seeds.model[0]: expected a positive integer, or 0, \"random\" or null "
                  "(unseeded), got -1"));
  EXPECT_TRUE(has("seeds.model[1]"));
  EXPECT_TRUE(has("seeds.model[2]"));
  EXPECT_TRUE(has("log_dir: expected a non-empty directory path"));
  EXPECT_TRUE(has("configs: missing") == false);
  EXPECT_TRUE(!problems_of(json::parse(R"({"seeds": {}})")).empty());
  EXPECT_TRUE(!problems_of(json::parse(R"({"configs": []})")).empty());
  EXPECT_TRUE(!problems_of(json::parse(R"([1])")).empty());
}

TEST(Metaconfig, LoadReportsMissingConfigsAndJsonErrors) {
  const fs::path dir = fs::temp_directory_path() / ("moedil_meta_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.jsonc") << "{}";
  std::ofstream(dir / "m.jsonc") << "{ // comment\n \"configs\": [\"" << (dir / "a.jsonc").string()
                                 << "\", \"" << (dir / "nope.jsonc").string()
                                 << "\"],\n \"seeds\": {\"global\": [1], \"loader\": [1, 2]},\n}\n";
  try {
    load_metaconfig(dir / "m.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 problems"), std::string::npos) << what;
    EXPECT_NE(what.find("nope.jsonc' does not exist"), std::string::npos) << what;
    EXPECT_NE(what.find("seeds.loader: has 2 seeds"), std::string::npos) << what;
  }
  std::ofstream(dir / "bad.jsonc") << "{\n \"configs\" [1]\n}";
  EXPECT_THROW(load_metaconfig(dir / "bad.jsonc"), ConfigError);
  EXPECT_THROW(load_metaconfig(dir / "absent.jsonc"), ConfigError);
  std::ofstream(dir / "good.jsonc") << "{\"configs\": [\"" << (dir / "a.jsonc").string() << "\"]}";
  EXPECT_EQ(expand(load_metaconfig(dir / "good.jsonc")).size(), 1u);
  fs::remove_all(dir);
}

TEST(SafeName, ReplacesEverythingAShellOrSbatchCouldMisread) {
  EXPECT_EQ(safe_name("my config's $(x)"), "my_config_s___x_");
  EXPECT_EQ(safe_name("ok-1.2_x"), "ok-1.2_x");
  EXPECT_EQ(safe_name(""), "_");
  EXPECT_EQ(safe_name(".."), "_..");
}

}  // namespace
}  // namespace moedil::batch
