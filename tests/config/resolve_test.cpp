#include "moedil/config/resolve.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/model_families.h"
#include "moedil/config/overrides.h"

namespace moedil::config {
namespace {

const NameCatalog kNames{{"fashion_mnist", "mnist"},
                         {"rotate", "domainIncremental"},
                         {"vit", "vit_moe", "hetero_moe"},
                         {"sgd", "adam", "adamw"},
                         {"cross_entropy", "focal", "weighted_cross_entropy"},
                         {"none", "step", "cosine", "linear"},
                         {"fifo", "reservoir", "class_balanced"},
                         {"switch", "mean_prob_mse", "importance_load", "entropy", "column_entropy",
                          "output_variance", "z_loss"}};

std::vector<ConfigIssue> issues_of(const std::string& jsonc) {
  RunConfig out;
  return check_run_config(parse_jsonc(jsonc, "t"), kNames, strip_jsonc(jsonc), out);
}

/// Every registered family (config/model_families.h) as the catalog's models.
NameCatalog with_every_family() {
  NameCatalog names = kNames;
  names.models.clear();
  for (const ModelFamily& family : model_families()) names.models.push_back(family.name);
  return names;
}

/// issues_of with every family's name valid.
std::vector<ConfigIssue> family_issues_of(const std::string& jsonc) {
  RunConfig out;
  return check_run_config(parse_jsonc(jsonc, "t"), with_every_family(), strip_jsonc(jsonc), out);
}

TEST(Resolve, EmptyObjectGivesDocumentedDefaults) {
  const RunConfig c = resolve_run_config(nlohmann::json::object(), kNames);
  EXPECT_EQ(c.dataset, "fashion_mnist");
  EXPECT_EQ(c.model.name, "vit_moe");
  EXPECT_EQ(c.num_partitions, 5);
  // moe_layer_indices defaults to every_other over depth 4.
  EXPECT_EQ(c.model.moe_layer_indices, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(c.device, "auto");
}

// Left out, weight_decay is the torch default of the optimizer (what the predecessor got from
// torch.optim.AdamW): 0.01 for adamw, 0 for sgd and adam; a given value always wins, and
// run.json's config records the value used.
// vit_moe's routing keys left out are the predecessor's: every token, renormalised gates, its
// balance loss; moe_route_with_cls_token says whether there is a CLS token (false: sample
// routing on the token mean).
TEST(Resolve, VitMoeDefaultsAreThePredecessorsRouting) {
  const RunConfig c = resolve_run_config(nlohmann::json::parse(R"({"model": {}})"), kNames);
  EXPECT_EQ(c.model.moe_routing_granularity, "token");
  EXPECT_EQ(c.model.moe_gate, "renormalized");
  EXPECT_EQ(c.model.moe_balance_losses, (std::map<std::string, double>{{"mean_prob_mse", 1.0}}));
  EXPECT_TRUE(c.model.moe_route_with_cls_token);
  EXPECT_EQ(c.model.moe_route_on, "cls");
  const RunConfig no_cls = resolve_run_config(
      nlohmann::json::parse(R"({"model": {"moe_route_with_cls_token": false,
                                          "moe_routing_granularity": "sample"}})"), kNames);
  EXPECT_FALSE(no_cls.model.moe_route_with_cls_token);
  EXPECT_EQ(no_cls.model.moe_route_on, "mean");
  // Resolved and written back, it reads the same.
  EXPECT_EQ(to_json(resolve_run_config(to_json(no_cls), kNames)), to_json(no_cls));
  RunConfig out;
  const auto issues = check_run_config(
      nlohmann::json::parse(R"({"model": {"moe_route_with_cls_token": false,
          "moe_routing_granularity": "sample", "moe_route_on": "cls"}})"), kNames, "", out);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.moe_route_on");
  EXPECT_EQ(check_run_config(nlohmann::json::parse(R"({"model": {"moe_gate": "soft"}})"), kNames,
                             "", out)[0].path,
            "model.moe_gate");
}

TEST(Resolve, WeightDecayLeftOutIsTheOptimizersTorchDefault) {
  const auto decay = [](const char* text) {
    return resolve_run_config(nlohmann::json::parse(text), kNames).optimizer.weight_decay;
  };
  EXPECT_EQ(decay(R"({"optimizer": {"name": "adamw"}})"), 0.01);
  EXPECT_EQ(decay(R"({"optimizer": {"name": "adam"}})"), 0.0);
  EXPECT_EQ(decay(R"({"optimizer": {"name": "sgd"}})"), 0.0);
  EXPECT_EQ(decay(R"({})"), 0.0);  // adam
  EXPECT_EQ(decay(R"({"optimizer": {"name": "adamw", "weight_decay": 0}})"), 0.0);
  EXPECT_EQ(decay(R"({"optimizer": {"name": "adam", "weight_decay": 0.5}})"), 0.5);
  const RunConfig c =
      resolve_run_config(nlohmann::json::parse(R"({"optimizer": {"name": "adamw"}})"), kNames);
  EXPECT_EQ(to_json(c)["optimizer"]["weight_decay"], 0.01);
}

TEST(Resolve, ReadsNestedValuesAndResolvesLayerKeywords) {
  const RunConfig c = resolve_run_config(
      parse_jsonc(R"({"model": {"depth": 3, "moe_layer_indices": "all", "moe_top_k": 2},
                      "optimizer": {"name": "sgd", "lr": 0.1}, "batch_size": 16})",
                  "t"),
      kNames);
  EXPECT_EQ(c.model.moe_layer_indices, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(c.model.moe_top_k, 2);
  EXPECT_EQ(c.optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.1);
  EXPECT_EQ(c.batch_size, 16);
}

TEST(Resolve, SeedsLeftOutTakeTheGlobalSeed) {
  const RunConfig c = resolve_run_config(
      parse_jsonc(R"({"seeds": {"global": 7, "model": 3}})", "t"), kNames);
  EXPECT_EQ(c.seeds.global, 7);
  EXPECT_EQ(c.seeds.model, 3);
  EXPECT_EQ(c.seeds.dataset, 7);
  EXPECT_EQ(c.seeds.partition, 7);
  EXPECT_EQ(c.seeds.loader, 7);
  EXPECT_EQ(c.seeds.training, 7);
}

RunConfig resolved(const std::string& jsonc) {
  return resolve_run_config(parse_jsonc(jsonc, "t"), kNames);
}

bool a_drawn_seed(int64_t seed) { return seed >= 1 && seed < (int64_t{1} << 31); }

// The predecessor's meaning: a global seed of 0, "random" (any case) or null is unseeded, and
// moedil draws a fresh one, recorded in the resolved config (so run.json can redo the run). A
// kind set to "random" is drawn too; a kind set to 0 or null was not reseeded there (its stream
// went on from the global seed), so it takes the global seed.
TEST(Resolve, ZeroRandomAndNullSeedsAreUnseededAndDrawnFresh) {
  for (const char* unseeded : {"0", "null", "\"random\"", "\"RANDOM\""}) {
    const RunConfig c = resolved(std::string(R"({"seeds": {"global": )") + unseeded + "}}");
    EXPECT_TRUE(a_drawn_seed(c.seeds.global)) << unseeded << ": " << c.seeds.global;
    EXPECT_EQ(c.seeds.drawn, std::vector<std::string>{"global"}) << unseeded;
    EXPECT_EQ(c.seeds.model, c.seeds.global);  // left out: takes global, drawn or not
    EXPECT_EQ(c.seeds.replay, c.seeds.global);
  }
  const RunConfig some = resolved(
      R"({"seeds": {"global": 5, "model": "Random", "loader": null, "dataset": 0,
                    "replay": "random"}})");
  EXPECT_EQ(some.seeds.global, 5);
  EXPECT_EQ(some.seeds.partition, 5);
  EXPECT_EQ(some.seeds.loader, 5);
  EXPECT_EQ(some.seeds.dataset, 5);
  EXPECT_EQ(some.seeds.drawn, (std::vector<std::string>{"model", "replay"}));
  EXPECT_TRUE(a_drawn_seed(some.seeds.model)) << some.seeds.model;
  // Each draw is its own, and so is each resolve (a clash is a 1 in 2^31 event).
  EXPECT_NE(some.seeds.model, some.seeds.replay);
  EXPECT_NE(resolved(R"({"seeds": {"global": "random"}})").seeds.global,
            resolved(R"({"seeds": {"global": "random"}})").seeds.global);
  EXPECT_FALSE(some.seeds.zero_is_a_seed);
}

// Left out, a seed is the seed 0 (moedil's default: two runs of a config agree); with
// seeds.zero_is_a_seed a 0 is the seed 0 too. Written back, the 0s stay seeds.
TEST(Resolve, SeedsLeftOutOrZeroWithZeroIsASeedAreTheSeedZero) {
  for (const char* text : {R"({})", R"({"seeds": {"zero_is_a_seed": true, "global": 0}})"}) {
    const RunConfig c = resolved(text);
    EXPECT_EQ(c.seeds.global, 0) << text;
    EXPECT_EQ(c.seeds.model, 0) << text;
    EXPECT_TRUE(c.seeds.drawn.empty()) << text;
    const nlohmann::json written = to_json(c);
    EXPECT_EQ(written["seeds"]["zero_is_a_seed"], true);
    const RunConfig again = resolve_run_config(written, kNames);
    EXPECT_EQ(again.seeds.global, 0);
    EXPECT_TRUE(again.seeds.drawn.empty());
  }
  const RunConfig with_random =
      resolved(R"({"seeds": {"zero_is_a_seed": true, "global": 0, "model": "random"}})");
  EXPECT_EQ(with_random.seeds.global, 0);
  EXPECT_TRUE(a_drawn_seed(with_random.seeds.model));
  // A drawn seed reads back as itself.
  const RunConfig drawn = resolved(R"({"seeds": {"global": null}})");
  const RunConfig reread = resolve_run_config(to_json(drawn), kNames);
  EXPECT_EQ(reread.seeds.global, drawn.seeds.global);
  EXPECT_EQ(reread.seeds.model, drawn.seeds.global);
  EXPECT_TRUE(reread.seeds.drawn.empty());
}

// The predecessor's top-level seed: seeds.global when that is left out, else ignored.
TEST(Resolve, TopLevelSeedIsTheGlobalSeedWhenSeedsGlobalIsLeftOut) {
  const RunConfig top = resolved(R"({"seed": 9, "seeds": {"model": 2}})");
  EXPECT_EQ(top.seeds.global, 9);
  EXPECT_EQ(top.seeds.loader, 9);
  EXPECT_EQ(top.seeds.model, 2);
  EXPECT_EQ(resolved(R"({"seed": 9})").seeds.replay, 9);
  EXPECT_EQ(resolved(R"({"seed": 9, "seeds": {"global": 3}})").seeds.global, 3);
  EXPECT_EQ(resolved(R"({"seed": 0})").seeds.drawn, std::vector<std::string>{"global"});
}

TEST(Resolve, BadSeedsAreRefusedSayingWhatASeedIs) {
  const auto issues = issues_of(R"({"seeds": {"global": -1, "model": 1.5, "loader": "x"}})");
  ASSERT_EQ(issues.size(), 3u);
  for (const auto& issue : issues) {
    EXPECT_NE(issue.message.find("expected a seed (an integer >= 0), or 0, \"random\" or null"),
              std::string::npos)
        << issue.path << ": " << issue.message;
  }
  EXPECT_EQ(issues[0].path, "seeds.global");
}

TEST(Resolve, NotifyTakesAWebhookUrlAndTheOutcomesThatSend) {
  RunConfig c;
  EXPECT_TRUE(check_run_config(parse_jsonc(R"({"notify": {"webhook_url": "https://h/x", "on": "failed"}})", "t"),
                               kNames, "", c)
                  .empty());
  EXPECT_EQ(c.notify.webhook_url, "https://h/x");
  EXPECT_EQ(c.notify.on, std::vector<std::string>{"failed"});
  RunConfig d;
  EXPECT_TRUE(check_run_config(parse_jsonc("{}", "t"), kNames, "", d).empty());
  EXPECT_EQ(d.notify.webhook_url, "");
  EXPECT_EQ(d.notify.on, (std::vector<std::string>{"completed", "failed", "interrupted"}));
  const auto issues = issues_of(R"({"notify": {"webhook_url": "discord.com/x", "on": ["complete"]}})");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "notify.webhook_url");
  EXPECT_NE(issues[0].message.find("expected an http:// or https:// URL"), std::string::npos);
  EXPECT_EQ(issues[1].path, "notify.on");
  EXPECT_NE(issues[1].message.find("did you mean 'completed'?"), std::string::npos)
      << issues[1].message;
}

TEST(Resolve, LoggersAddTensorBoardBesideTheCsvEveryRunWrites) {
  RunConfig c;
  EXPECT_TRUE(check_run_config(parse_jsonc(R"({"loggers": ["csv", "tensorboard"]})", "t"), kNames,
                               "", c)
                  .empty());
  EXPECT_EQ(c.loggers, (std::vector<std::string>{"csv", "tensorboard"}));
  RunConfig d;
  EXPECT_TRUE(check_run_config(parse_jsonc("{}", "t"), kNames, "", d).empty());
  EXPECT_EQ(d.loggers, std::vector<std::string>{"csv"});
  auto issues = issues_of(R"({"loggers": ["tensorboard"]})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "loggers");
  EXPECT_NE(issues[0].message.find("every run writes metrics.csv"), std::string::npos)
      << issues[0].message;
  issues = issues_of(R"({"loggers": ["csv", "tensorbord"]})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("did you mean 'tensorboard'?"), std::string::npos)
      << issues[0].message;
}

TEST(Resolve, UnknownKeyNamesPathLineAndClosestKey) {
  const auto issues = issues_of("{\n  \"model\": {\n    \"moe_topk\": 2\n  }\n}");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.moe_topk");
  EXPECT_EQ(issues[0].line, 3u);
  EXPECT_NE(issues[0].message.find("did you mean 'model.moe_top_k'"), std::string::npos)
      << issues[0].message;
}

TEST(Resolve, WrongTypeSaysExpectedAndGot) {
  const auto issues = issues_of("{\"batch_size\": \"64\", \"shuffle\": 1, \"train_frac\": true}");
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_EQ(issues[0].path, "train_frac");  // reported in key order of the schema
  EXPECT_NE(issues[0].message.find("expected a number, got boolean"), std::string::npos);
  EXPECT_EQ(issues[1].path, "batch_size");
  EXPECT_NE(issues[1].message.find("expected an integer, got string"), std::string::npos);
  EXPECT_EQ(issues[2].path, "shuffle");
  EXPECT_NE(issues[2].message.find("expected true or false"), std::string::npos);
}

TEST(Resolve, OutOfRangeValues) {
  const auto issues = issues_of(
      R"({"train_frac": 1.5, "batch_size": 0, "model": {"dropout": 1.0, "moe_layer_indices": [0, 9]}})");
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"train_frac", "batch_size", "model.dropout",
                                             "model.moe_layer_indices"}));
  EXPECT_NE(issues[0].message.find("must be in (0.0, 1.0)"), std::string::npos) << issues[0].message;
  EXPECT_NE(issues[3].message.find("block index 9 is out of range"), std::string::npos);
}

// router_freeze_after_epochs has the predecessor's meaning (global epochs, for good; null or
// left out = never; router_freeze_after_batches is its other name); moedil's per-domain
// freezing has its own key.
TEST(Resolve, RouterFreezingKeysKeepThePredecessorsMeaning) {
  const auto read = [](const char* text) {
    return resolve_run_config(nlohmann::json::parse(text), kNames);
  };
  EXPECT_EQ(read("{}").router_freeze_after_epochs, -1);
  EXPECT_EQ(read(R"({"router_freeze_after_epochs": null})").router_freeze_after_epochs, -1);
  EXPECT_EQ(read(R"({"router_freeze_after_epochs": 0})").router_freeze_after_epochs, 0);
  EXPECT_EQ(read(R"({"router_freeze_after_batches": 4})").router_freeze_after_epochs, 4);
  EXPECT_EQ(read(R"({"router_freeze_per_domain_after_epochs": 2})")
                .router_freeze_per_domain_after_epochs,
            2);
  // run.json's config writes the one key, null for never, and reads back the same.
  EXPECT_TRUE(to_json(read("{}"))["router_freeze_after_epochs"].is_null());
  EXPECT_EQ(to_json(read(R"({"router_freeze_after_batches": 4})"))["router_freeze_after_epochs"],
            4);
  EXPECT_FALSE(to_json(read("{}")).contains("router_freeze_after_batches"));

  auto issues = issues_of(R"({"router_freeze_after_epochs": 1, "router_freeze_after_batches": 1,
      "router_freeze_per_domain_after_epochs": 1})");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "router_freeze_after_batches");
  EXPECT_NE(issues[0].message.find("another name of router_freeze_after_epochs"),
            std::string::npos);
  EXPECT_EQ(issues[1].path, "router_freeze_per_domain_after_epochs");
  EXPECT_NE(issues[1].message.find("choose one of the two"), std::string::npos);
  issues = issues_of(R"({"router_freeze_after_epochs": -1})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("(null or left out: never)"), std::string::npos);
  issues = issues_of(R"({"router_freeze_after_epochs": "never"})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("expected an epoch count or null"), std::string::npos);
  // Freezing inside pretraining is the predecessor's meaning too (pretraining epochs count).
  EXPECT_TRUE(issues_of(R"({"router_freeze_after_epochs": 0,
      "pretrain": {"enabled": true, "epochs": 3}})").empty());
}

TEST(Resolve, BalanceScheduleKeysKeepThePredecessorsMeaning) {
  const auto read = [](const char* text) {
    return resolve_run_config(nlohmann::json::parse(text), kNames);
  };
  const RunConfig d = read("{}");
  EXPECT_EQ(d.router_balance_max, -1.0);  // null: the strength
  EXPECT_EQ(d.router_balance_min, 0.0);
  EXPECT_EQ(d.router_balance_schedule, "cosine");
  EXPECT_TRUE(to_json(d)["router_balance_max"].is_null());
  const RunConfig c = read(R"({"router_balance_max": 0.5, "router_balance_min": 0.1,
      "router_balance_anneal_epochs": 3, "router_balance_schedule": "linear_per_domain"})");
  EXPECT_EQ(c.router_balance_max, 0.5);
  EXPECT_EQ(c.router_balance_schedule, "linear_per_domain");
  EXPECT_EQ(read(to_json(c).dump().c_str()).router_balance_schedule, "linear_per_domain");
  const auto issues = issues_of(R"({"router_balance_max": -2, "router_balance_schedule": "cosin"})");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_NE(issues[0].message.find("(or null)"), std::string::npos) << issues[0].message;
  EXPECT_NE(issues[1].message.find("did you mean 'cosine'"), std::string::npos)
      << issues[1].message;
}

TEST(Resolve, UnknownRegisteredNameSuggestsClosest) {
  const auto issues = issues_of(R"({"model": {"name": "vit_mo"}, "optimizer": {"name": "adamx"}})");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "model.name");
  EXPECT_NE(issues[0].message.find("did you mean 'vit_moe'"), std::string::npos);
  EXPECT_NE(issues[0].message.find("valid: vit, vit_moe"), std::string::npos);
  EXPECT_EQ(issues[1].path, "optimizer.name");
}

TEST(Resolve, InconsistentPartitionAndModelValues) {
  const auto issues = issues_of(
      R"({"num_partitions": 3, "partition": {"type": "rotate", "angles": [0, 90]},
          "model": {"moe_num_unshared_experts": 2, "moe_top_k": 3, "embed_dim": 30, "num_heads": 4}})");
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_EQ(issues[0].path, "num_partitions");
  EXPECT_NE(issues[0].message.find("lists 2 angles"), std::string::npos);
  EXPECT_EQ(issues[1].path, "model.num_heads");
  EXPECT_EQ(issues[2].path, "model.moe_top_k");
}

TEST(Resolve, ThrowsOneErrorListingEveryProblem) {
  const std::string text = "{\n \"batch_sise\": 3,\n \"device\": \"gpu\"\n}";
  try {
    resolve_run_config(parse_jsonc(text, "x.jsonc"), kNames, strip_jsonc(text), "x.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("x.jsonc: 2 problems"), std::string::npos) << what;
    EXPECT_NE(what.find("line 2, batch_sise: unknown key; did you mean 'batch_size'?"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("line 3, device: unknown device 'gpu'"), std::string::npos) << what;
  }
}

TEST(Resolve, ToJsonRoundTrips) {
  RunConfig c = resolve_run_config(
      parse_jsonc(R"({"model": {"moe_top_k": 2, "moe_layer_indices": [0]}, "seeds": {"global": 5}})",
                  "t"),
      kNames);
  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["model"]["moe_layer_indices"], nlohmann::json::array({0}));
  EXPECT_EQ(j["seeds"]["loader"], 5);
  const RunConfig again = resolve_run_config(j, kNames);
  EXPECT_EQ(to_json(again), j);
}

TEST(Resolve, FindKeyLineFollowsNestedPathsAndSkipsValues) {
  const std::string text =
      "{\n \"name\": \"model\",\n \"model\": {\n  \"x\": 1,\n  \"name\": \"vit\"\n }\n}";
  EXPECT_EQ(find_key_line(text, "model.name"), 5u);
  EXPECT_EQ(find_key_line(text, "name"), 2u);
  EXPECT_EQ(find_key_line(text, "model.missing"), 0u);
}

TEST(Resolve, TrainingOptionsBadInput) {
  const auto issues = issues_of(
      R"({"loss": {"name": "focul", "alpha": "sometimes"},
          "scheduler": {"name": "cosin"},
          "replay": {"enabled": true, "capacity": -1, "policy": "reservior", "ratio": 1.5},
          "baseline": {"enabled": true, "epochs": 0}})");
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"loss.name", "loss.alpha", "scheduler.name",
                                             "replay.capacity", "replay.policy", "replay.ratio",
                                             "baseline.epochs"}));
  EXPECT_NE(issues[0].message.find("did you mean 'focal'"), std::string::npos);
  EXPECT_NE(issues[2].message.find("did you mean 'cosine'"), std::string::npos);
  EXPECT_NE(issues[4].message.find("did you mean 'reservoir'"), std::string::npos);
  EXPECT_NE(issues[6].message.find("baseline is enabled with 0 epochs"), std::string::npos);
}

TEST(Resolve, WarmupLongerThanTheScheduleIsAnError) {
  auto issues = issues_of(
      R"({"epochs_per_domain": 3, "scheduler": {"name": "cosine", "warmup_epochs": 3,
                                                  "per_domain": true}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "scheduler.warmup_epochs");
  // Over the whole stream (5 domains x 3 epochs) the same warm-up fits.
  EXPECT_TRUE(issues_of(R"({"epochs_per_domain": 3,
                            "scheduler": {"name": "cosine", "warmup_epochs": 3,
                                          "per_domain": false}})")
                  .empty());
}

TEST(Resolve, DomainSelectionNeedsDomainIncremental) {
  const auto issues = issues_of(R"({"settings": ["Art", 3], "test_settings": [7]})");
  ASSERT_EQ(issues.size(), 2u);
  EXPECT_EQ(issues[0].path, "settings");
  EXPECT_NE(issues[0].message.find("needs partition.type 'domainIncremental'"), std::string::npos);
  EXPECT_EQ(issues[1].path, "test_settings");
  RunConfig c = resolve_run_config(
      parse_jsonc(R"({"partition": {"type": "domainIncremental"}, "num_partitions": 2,
                      "settings": ["Art", 3], "test_settings": [7]})", "t"),
      kNames);
  EXPECT_EQ(c.settings, (std::vector<std::string>{"Art", "3"}));
  EXPECT_EQ(c.test_settings, (std::vector<std::string>{"7"}));
  EXPECT_FALSE(issues_of(R"({"settings": [1.5]})").empty());
}

TEST(Resolve, FocalAlphaForms) {
  RunConfig c = resolve_run_config(parse_jsonc(R"({"loss": {"alpha": [1, 0.5]}})", "t"), kNames);
  EXPECT_EQ(c.loss.alpha, "list");
  EXPECT_EQ(c.loss.alpha_values, (std::vector<double>{1.0, 0.5}));
  EXPECT_EQ(to_json(c)["loss"]["alpha"], nlohmann::json::array({1.0, 0.5}));
  c = resolve_run_config(parse_jsonc(R"({"loss": {"alpha": "auto"}})", "t"), kNames);
  EXPECT_EQ(c.loss.alpha, "auto");
  c = resolve_run_config(parse_jsonc(R"({"loss": {"alpha": null}})", "t"), kNames);
  EXPECT_EQ(c.loss.alpha, "none");
  EXPECT_TRUE(to_json(c)["loss"]["alpha"].is_null());
}

TEST(Resolve, RoutingCoreOptionsReadAndDefaults) {
  RunConfig c;
  const auto issues = check_run_config(
      parse_jsonc(R"({"model": {"moe_noise_std": 0.5, "moe_capacity_factor": 1.25,
                     "moe_routing": "expert_choice", "moe_expert_dropout": 0.25,
                     "moe_balance_losses": {"z_loss": 0.001, "importance_load": 0.5}}})", "t"),
      kNames, "", c);
  ASSERT_TRUE(issues.empty()) << issues[0].path << ": " << issues[0].message;
  EXPECT_EQ(c.model.moe_noise_std, 0.5);
  EXPECT_EQ(c.model.moe_capacity_factor, 1.25);
  EXPECT_EQ(c.model.moe_routing, "expert_choice");
  EXPECT_EQ(c.model.moe_expert_dropout, 0.25);
  // A given object replaces the default {"mean_prob_mse": 1} entirely.
  EXPECT_EQ(c.model.moe_balance_losses,
            (std::map<std::string, double>{{"importance_load", 0.5}, {"z_loss", 0.001}}));
  EXPECT_EQ(to_json(c)["model"]["moe_balance_losses"]["z_loss"], 0.001);
  const RunConfig defaults;
  EXPECT_EQ(defaults.model.moe_balance_losses,
            (std::map<std::string, double>{{"mean_prob_mse", 1.0}}));
  EXPECT_EQ(defaults.model.moe_routing, "token_choice");
  EXPECT_EQ(defaults.model.moe_capacity_factor, 0.0);
  // No limit is null (or the key left out), and it is written back as null, so a resolved
  // config read back from run.json resolves again.
  RunConfig unlimited;
  ASSERT_TRUE(check_run_config(parse_jsonc(R"({"model": {"moe_capacity_factor": null}})", "t"),
                               kNames, "", unlimited)
                  .empty());
  EXPECT_EQ(unlimited.model.moe_capacity_factor, 0.0);
  EXPECT_TRUE(to_json(unlimited)["model"]["moe_capacity_factor"].is_null());
  RunConfig again;
  EXPECT_TRUE(check_run_config(to_json(unlimited), kNames, "", again).empty());
  EXPECT_EQ(to_json(c)["model"]["moe_capacity_factor"], 1.25);
}

TEST(Resolve, HeteroExpertsAndExpertMerging) {
  RunConfig c;
  const auto issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "hetero_moe", "hetero_experts": ["conv", "mlp"],
                     "moe_top_k": 2}, "expert_merging": {"enabled": true, "every_steps": 50}})",
                  "t"),
      kNames, "", c);
  ASSERT_TRUE(issues.empty()) << issues[0].path << ": " << issues[0].message;
  EXPECT_EQ(c.model.hetero_experts, (std::vector<std::string>{"conv", "mlp"}));
  EXPECT_TRUE(c.expert_merging.enabled);
  EXPECT_EQ(c.expert_merging.every_steps, 50);
  const RunConfig defaults;
  EXPECT_FALSE(defaults.expert_merging.enabled);
  EXPECT_EQ(defaults.expert_merging.every_steps, 100);

  const auto bad = issues_of(R"({"model": {"name": "hetero_moe", "hetero_experts": ["mlp", "lstm"],
      "moe_top_k": 3}, "expert_merging": {"every_steps": 0, "enabeld": true}})");
  std::vector<std::string> paths;
  for (const auto& i : bad) paths.push_back(i.path);
  // The refused list is not used for the consistency checks (its 2 entries would refuse
  // moe_top_k 3 as well).
  EXPECT_EQ(paths, (std::vector<std::string>{"model.hetero_experts", "expert_merging.every_steps",
                                             "expert_merging.enabeld"}));
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_NE(bad[0].message.find("unknown hetero expert kind 'lstm'"), std::string::npos)
      << bad[0].message;
  EXPECT_NE(bad[2].message.find("did you mean 'expert_merging.enabled'"), std::string::npos)
      << bad[2].message;
  const auto top_k = issues_of(R"({"model": {"name": "hetero_moe",
      "hetero_experts": ["mlp", "conv"], "moe_top_k": 3}})");
  ASSERT_EQ(top_k.size(), 1u);
  EXPECT_EQ(top_k[0].path, "model.moe_top_k");
  EXPECT_NE(top_k[0].message.find("model.hetero_experts (2)"), std::string::npos)
      << top_k[0].message;
}

TEST(Resolve, RoutingCoreOptionsBadInputNameTheKey) {
  const auto issues = issues_of(R"({"model": {"moe_noise_std": -1, "moe_capacity_factor": -0.5,
      "moe_routing": "expert_chioce", "moe_expert_dropout": 1.0,
      "moe_balance_losses": {"swich": 1.0}}})");
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"model.moe_noise_std", "model.moe_capacity_factor",
                                             "model.moe_routing", "model.moe_expert_dropout",
                                             "model.moe_balance_losses"}));
  ASSERT_EQ(issues.size(), 5u);
  EXPECT_NE(issues[1].message.find("must be > 0"), std::string::npos) << issues[1].message;
  EXPECT_NE(issues[2].message.find("did you mean 'expert_choice'"), std::string::npos)
      << issues[2].message;
  EXPECT_NE(issues[3].message.find("must be in [0.0, 1.0)"), std::string::npos)
      << issues[3].message;
  EXPECT_NE(issues[4].message.find("unknown balance loss 'swich'; did you mean 'switch'"),
            std::string::npos)
      << issues[4].message;
  // Negative weights and non-numbers are rejected too.
  const auto weights = issues_of(R"({"model": {"moe_balance_losses": {"entropy": -1}}})");
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_NE(weights[0].message.find("must be in [0, 1e6]"), std::string::npos)
      << weights[0].message;
  const auto type = issues_of(R"({"model": {"moe_balance_losses": {"entropy": "x"}}})");
  ASSERT_EQ(type.size(), 1u);
  EXPECT_EQ(type[0].path, "model.moe_balance_losses");
  // top_k larger than the experts, and a capacity of 0 or less, throw a ConfigError naming the key.
  for (const std::string text :
       {R"({"model": {"moe_num_unshared_experts": 2, "moe_top_k": 3}})",
        R"({"model": {"moe_capacity_factor": -1}})",
        R"({"model": {"moe_capacity_factor": 0}})"}) {
    try {
      resolve_run_config(parse_jsonc(text, "x.jsonc"), kNames, text, "x.jsonc");
      FAIL() << "expected ConfigError for " << text;
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_TRUE(what.find("model.moe_top_k") != std::string::npos ||
                  what.find("model.moe_capacity_factor") != std::string::npos)
          << what;
    }
  }
}

/// kNames plus the CNN families these tests name.
NameCatalog with_cnn_families() {
  NameCatalog names = kNames;
  for (const char* name :
       {"resnet18", "resnet18_conv_moe", "resnet18_block_moe", "convnext_tiny"}) {
    names.models.push_back(name);
  }
  return names;
}

TEST(Resolve, CnnFamilyOptionsReadAndDefaults) {
  const RunConfig defaults;
  EXPECT_EQ(defaults.model.resnet_stem, "cifar");
  EXPECT_EQ(defaults.model.resnet_width, 16);
  EXPECT_EQ(defaults.model.resnet_moe_stages, (std::vector<int64_t>{3}));
  EXPECT_EQ(defaults.model.convnext_depths, (std::vector<int64_t>{3, 3, 9, 3}));
  EXPECT_EQ(defaults.model.convnext_dims, (std::vector<int64_t>{32, 64, 128, 256}));
  EXPECT_EQ(defaults.model.convnext_stem_patch, 2);
  RunConfig c;
  const auto issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "resnet18_conv_moe", "resnet_stem": "imagenet",
                     "resnet_width": 8, "resnet_moe_stages": [0, 2, 3]}})", "t"),
      with_cnn_families(), "", c);
  ASSERT_TRUE(issues.empty()) << issues[0].path << ": " << issues[0].message;
  EXPECT_EQ(c.model.resnet_stem, "imagenet");
  EXPECT_EQ(c.model.resnet_width, 8);
  EXPECT_EQ(c.model.resnet_moe_stages, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(to_json(c)["model"]["resnet_moe_stages"], nlohmann::json({0, 2, 3}));
  RunConfig n;
  const auto convnext = check_run_config(
      parse_jsonc(R"({"model": {"name": "convnext_tiny", "convnext_depths": [1, 2, 3, 4],
                     "convnext_dims": [8, 16, 24, 32], "convnext_stem_patch": 4}})", "t"),
      with_cnn_families(), "", n);
  ASSERT_TRUE(convnext.empty()) << convnext[0].path << ": " << convnext[0].message;
  EXPECT_EQ(n.model.convnext_depths, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(n.model.convnext_dims, (std::vector<int64_t>{8, 16, 24, 32}));
  EXPECT_EQ(n.model.convnext_stem_patch, 4);
  EXPECT_EQ(to_json(n)["model"]["convnext_dims"], nlohmann::json({8, 16, 24, 32}));
}

TEST(Resolve, CnnFamilyOptionsBadInputNameTheKey) {
  RunConfig out;
  const auto resnet = check_run_config(
      parse_jsonc(R"({"model": {"name": "resnet18_block_moe", "resnet_stem": "cifr",
                     "resnet_width": 0, "resnet_moe_stages": [1, 4]}})", "t"),
      with_cnn_families(), "", out);
  auto issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "convnext_tiny", "convnext_depths": [3, 3, 9],
                     "convnext_dims": [32, 0, 128, 256], "convnext_stem_patch": 0}})", "t"),
      with_cnn_families(), "", out);
  issues.insert(issues.begin(), resnet.begin(), resnet.end());
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"model.resnet_stem", "model.resnet_width",
                                             "model.resnet_moe_stages", "model.convnext_depths",
                                             "model.convnext_dims",
                                             "model.convnext_stem_patch"}));
  ASSERT_EQ(issues.size(), 6u);
  EXPECT_NE(issues[0].message.find("did you mean 'cifar'"), std::string::npos)
      << issues[0].message;
  EXPECT_NE(issues[2].message.find("stage 4 is out of range: valid 0..3"), std::string::npos)
      << issues[2].message;
  EXPECT_NE(issues[3].message.find("expected 4 values, got 3"), std::string::npos)
      << issues[3].message;
  EXPECT_NE(issues[4].message.find("must be in [1, 65536]"), std::string::npos)
      << issues[4].message;
  const auto negative = check_run_config(
      parse_jsonc(R"({"model": {"name": "resnet18_conv_moe", "resnet_moe_stages": [-1]}})", "t"),
      with_cnn_families(), "", out);
  ASSERT_EQ(negative.size(), 1u);
  EXPECT_EQ(negative[0].path, "model.resnet_moe_stages");
  const auto type = check_run_config(
      parse_jsonc(R"({"model": {"name": "resnet18_conv_moe", "resnet_moe_stages": 3}})", "t"),
      with_cnn_families(), "", out);
  ASSERT_EQ(type.size(), 1u);
  EXPECT_NE(type[0].message.find("expected a list"), std::string::npos) << type[0].message;

  // A stage 4 is a ConfigError from resolve naming the key and the valid range.
  const std::string text = R"({"model": {"name": "resnet18_conv_moe", "resnet_moe_stages": [4]}})";
  try {
    resolve_run_config(parse_jsonc(text, "x.jsonc"), with_cnn_families(), text, "x.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("model.resnet_moe_stages"), std::string::npos) << what;
    EXPECT_NE(what.find("valid 0..3"), std::string::npos) << what;
  }
}

/// kNames plus the two families these tests name.
NameCatalog with_vit_variants() {
  NameCatalog names = kNames;
  names.models.push_back("vit_moe_centroid");
  names.models.push_back("switch_moe_vit");
  return names;
}

TEST(Resolve, ImageLevelAndSwitchOptionsReadAndDefaults) {
  const RunConfig d = resolve_run_config(nlohmann::json::object(), kNames);
  // Keep rates, with the predecessor's defaults (issue 17).
  EXPECT_DOUBLE_EQ(d.model.alpha_fast, 0.8);
  EXPECT_DOUBLE_EQ(d.model.alpha_slow, 0.99);
  EXPECT_DOUBLE_EQ(d.model.temperature_start, 1.0);
  EXPECT_DOUBLE_EQ(d.model.temperature_end, 0.1);
  EXPECT_EQ(d.model.anneal_epochs, 5);
  EXPECT_DOUBLE_EQ(d.model.repulsion_weight, 0.1);
  EXPECT_DOUBLE_EQ(d.model.alignment_weight, 0.1);
  EXPECT_DOUBLE_EQ(d.model.consistency_weight, 0.1);
  EXPECT_DOUBLE_EQ(d.model.kl_balance_weight_start, 1.0);
  EXPECT_DOUBLE_EQ(d.model.kl_balance_weight_end, 0.1);
  EXPECT_EQ(d.model.expert_depth, 2);
  EXPECT_FALSE(d.model.freeze_shared);
  EXPECT_DOUBLE_EQ(d.model.ema_alpha, 0.9);
  EXPECT_DOUBLE_EQ(d.model.routing_alpha, 0.3);
  const RunConfig c = resolve_run_config(
      parse_jsonc(R"({"model": {"name": "vit_moe_centroid", "alpha_fast": 1.0,
          "alpha_slow": 0.5, "temperature_start": 2.0, "temperature_end": 0.5,
          "anneal_epochs": 3, "repulsion_weight": 0.0, "alignment_weight": 0.2,
          "consistency_weight": 0.3, "kl_balance_weight_start": 0.4,
          "kl_balance_weight_end": 0.0}})", "t"),
      with_vit_variants());
  const RunConfig s = resolve_run_config(
      parse_jsonc(R"({"model": {"name": "switch_moe_vit", "expert_depth": 3, "depth": 4,
          "freeze_shared": true, "ema_alpha": 0.5, "routing_alpha": 0.25}})", "t"),
      with_vit_variants());
  EXPECT_DOUBLE_EQ(c.model.alpha_fast, 1.0);
  EXPECT_DOUBLE_EQ(c.model.alpha_slow, 0.5);
  EXPECT_DOUBLE_EQ(c.model.temperature_start, 2.0);
  EXPECT_DOUBLE_EQ(c.model.temperature_end, 0.5);
  EXPECT_EQ(c.model.anneal_epochs, 3);
  EXPECT_DOUBLE_EQ(c.model.repulsion_weight, 0.0);
  EXPECT_DOUBLE_EQ(c.model.alignment_weight, 0.2);
  EXPECT_DOUBLE_EQ(c.model.consistency_weight, 0.3);
  EXPECT_DOUBLE_EQ(c.model.kl_balance_weight_start, 0.4);
  EXPECT_DOUBLE_EQ(c.model.kl_balance_weight_end, 0.0);
  EXPECT_EQ(s.model.expert_depth, 3);
  EXPECT_TRUE(s.model.freeze_shared);
  EXPECT_DOUBLE_EQ(s.model.ema_alpha, 0.5);
  EXPECT_DOUBLE_EQ(s.model.routing_alpha, 0.25);
  // They round-trip through the resolved JSON; routing_alpha null (the concatenated cosine)
  // too.
  const nlohmann::json j = to_json(s);
  EXPECT_EQ(j["model"]["expert_depth"], 3);
  EXPECT_EQ(j["model"]["ema_alpha"], 0.5);
  EXPECT_EQ(j["model"]["routing_alpha"], 0.25);
  const RunConfig concat = resolve_run_config(
      parse_jsonc(R"({"model": {"name": "switch_moe_vit", "routing_alpha": null}})", "t"),
      with_vit_variants());
  EXPECT_DOUBLE_EQ(concat.model.routing_alpha, -1.0);
  EXPECT_TRUE(to_json(concat)["model"]["routing_alpha"].is_null());
  EXPECT_DOUBLE_EQ(resolve_run_config(to_json(concat), with_vit_variants()).model.routing_alpha,
                   -1.0);
  EXPECT_EQ(to_json(c)["model"]["temperature_start"], 2.0);
}

TEST(Resolve, ImageLevelAndSwitchOptionsBadInputNameTheKey) {
  RunConfig out;
  auto issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "vit_moe_centroid", "alpha_fast": -0.1,
          "alpha_slow": 1.5, "temperature_start": 0.0, "temperature_end": -1,
          "anneal_epochs": 0, "repulsion_weight": -0.1, "alignment_weight": -1,
          "consistency_weight": -2, "kl_balance_weight_start": -1,
          "kl_balance_weight_end": -1}})", "t"),
      with_vit_variants(), "", out);
  const auto switch_issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "switch_moe_vit", "expert_depth": 0,
          "freeze_shared": 1, "ema_alpha": 1.01, "routing_alpha": -0.5}})", "t"),
      with_vit_variants(), "", out);
  issues.insert(issues.end(), switch_issues.begin(), switch_issues.end());
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "model.alpha_fast", "model.alpha_slow", "model.temperature_start",
                       "model.temperature_end", "model.anneal_epochs", "model.repulsion_weight",
                       "model.alignment_weight", "model.consistency_weight",
                       "model.kl_balance_weight_start", "model.kl_balance_weight_end",
                       "model.expert_depth", "model.freeze_shared", "model.ema_alpha",
                       "model.routing_alpha"}));
  ASSERT_EQ(issues.size(), 14u);
  EXPECT_NE(issues[0].message.find("must be in [0.0, 1.0]"), std::string::npos)
      << issues[0].message;
  EXPECT_NE(issues[13].message.find("must be in [0, 1] (or null)"), std::string::npos)
      << issues[13].message;
  // Keep rates of exactly 0 and 1 and weights of exactly 0 are fine.
  EXPECT_TRUE(check_run_config(parse_jsonc(R"({"model": {"name": "vit_moe_centroid",
      "alpha_fast": 1.0, "alpha_slow": 0.0, "repulsion_weight": 0.0}})", "t"),
      with_vit_variants(), "", out).empty());
  EXPECT_TRUE(check_run_config(parse_jsonc(R"({"model": {"name": "switch_moe_vit",
      "ema_alpha": 0.0, "routing_alpha": 1.0}})", "t"), with_vit_variants(), "", out).empty());
}

TEST(Resolve, ExpertDepthNotBelowDepthIsAConfigErrorForSwitch) {
  const std::string text =
      R"({"model": {"name": "switch_moe_vit", "depth": 2, "expert_depth": 2}})";
  try {
    resolve_run_config(parse_jsonc(text, "x.jsonc"), with_vit_variants(), text, "x.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "x.jsonc: 1 problem in the config:\n  line 1, model.expert_depth: 2 leaves no "
              "shared block: switch_moe_vit needs model.expert_depth < model.depth (2)");
  }
  // One block below the depth leaves a shared block: fine.
  EXPECT_NO_THROW(resolve_run_config(
      parse_jsonc(R"({"model": {"name": "switch_moe_vit", "depth": 3, "expert_depth": 2}})", "t"),
      with_vit_variants()));
}

TEST(Resolve, ImageLevelReadsNoRoutingOptionButTheBalanceLosses) {
  // It routes every image to its chosen expert (token choice without capacity): its centroids
  // follow the images the router chose, so moe_routing and moe_capacity_factor are not its keys.
  for (const auto& [text, path] :
       std::vector<std::pair<std::string, std::string>>{
           {R"({"model": {"name": "vit_moe_centroid", "moe_routing": "expert_choice"}})",
            "model.moe_routing"},
           {R"({"model": {"name": "vit_moe_centroid", "moe_capacity_factor": 1.5}})",
            "model.moe_capacity_factor"}}) {
    RunConfig c;
    const auto issues = check_run_config(parse_jsonc(text, "t"), with_vit_variants(), "", c);
    ASSERT_EQ(issues.size(), 1u) << text;
    EXPECT_EQ(issues[0].path, path);
    EXPECT_EQ(issues[0].message.rfind("not read by model 'vit_moe_centroid' (it reads: ", 0),
              0u)
        << issues[0].message;
  }
  // Other families keep both options.
  RunConfig c;
  EXPECT_TRUE(check_run_config(parse_jsonc(R"({"model": {"moe_routing": "expert_choice"}})", "t"),
                               with_vit_variants(), "", c)
                  .empty());
}

}  // namespace
}  // namespace moedil::config

namespace moedil::config {
namespace {

std::vector<std::string> paths_of(const std::vector<ConfigIssue>& issues) {
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  return paths;
}

TEST(Resolve, EverySizeAndCountHasAnUpperBound) {
  // Issue 14's values, each refused at validation naming its key (they used to fail late in
  // LibTorch, or build an index list of 10^12 entries).
  const auto issues = issues_of(R"({"model": {"depth": 1000000000000,
      "moe_num_shared_experts": 9223372036854775807, "embed_dim": 2147483648},
      "augmentation": {"random_crop_padding": 1000000}})");
  EXPECT_EQ(paths_of(issues),
            (std::vector<std::string>{"model.depth", "model.embed_dim",
                                      "model.moe_num_shared_experts",
                                      "augmentation.random_crop_padding"}));
  ASSERT_EQ(issues.size(), 4u);
  EXPECT_NE(issues[0].message.find("1000000000000 is out of range: must be in [1, 1000]"),
            std::string::npos)
      << issues[0].message;
  EXPECT_NE(issues[1].message.find("must be in [1, 65536]"), std::string::npos)
      << issues[1].message;
  EXPECT_NE(issues[2].message.find("must be in [0, 1024]"), std::string::npos)
      << issues[2].message;
  EXPECT_NE(issues[3].message.find("1000000 is out of range: must be in [0, 256]"),
            std::string::npos)
      << issues[3].message;

  // Every other bounded key, one above its bound.
  const auto more = issues_of(R"({"mini_dataset": 1000000001, "resize": 4097,
      "num_partitions": 1001, "partition": {"min_size": 1000000001, "retries": 1000001},
      "batch_size": 1048577, "eval_batch_size": 1048577,
      "model": {"patch_size": 1025, "num_heads": 1025, "moe_num_unshared_experts": 1025,
                "moe_top_k": 1025},
      "scheduler": {"warmup_epochs": 1000001, "step_size": 1000001},
      "epochs_per_domain": 1000001, "replay": {"capacity": 1000000001},
      "pretrain": {"num_samples": 1000000001, "epochs": 1000001},
      "baseline": {"epochs": 1000001}, "router_balance_anneal_epochs": 1000001,
      "router_freeze_after_epochs": 1000001, "expert_merging": {"every_steps": 1000000001},
      "num_threads": 1025})");
  const std::vector<std::string> expected{
      "mini_dataset", "resize", "num_partitions", "partition.min_size", "partition.retries",
      "batch_size", "eval_batch_size", "model.patch_size", "model.num_heads",
      "model.moe_num_unshared_experts", "model.moe_top_k", "scheduler.warmup_epochs",
      "scheduler.step_size", "epochs_per_domain", "replay.capacity", "pretrain.num_samples",
      "pretrain.epochs", "baseline.epochs", "router_balance_anneal_epochs",
      "router_freeze_after_epochs", "expert_merging.every_steps", "num_threads"};
  for (const auto& key : expected) {
    const auto paths = paths_of(more);
    EXPECT_NE(std::find(paths.begin(), paths.end(), key), paths.end()) << key;
  }
  for (const auto& issue : more) {
    EXPECT_NE(issue.message.find("is out of range"), std::string::npos)
        << issue.path << ": " << issue.message;
  }
  // The other families' bounded keys, each set with its family.
  for (const auto& [model, path] : std::vector<std::pair<std::string, std::string>>{
           {R"("resnet18", "resnet_width": 4097)", "model.resnet_width"},
           {R"("convnext_tiny", "convnext_depths": [1, 1, 1001, 1])", "model.convnext_depths"},
           {R"("convnext_tiny", "convnext_dims": [8, 8, 8, 65537])", "model.convnext_dims"},
           {R"("convnext_tiny", "convnext_stem_patch": 1025)", "model.convnext_stem_patch"},
           {R"("vit_moe_centroid", "anneal_epochs": 1000001)", "model.anneal_epochs"},
           {R"("switch_moe_vit", "expert_depth": 1001)", "model.expert_depth"}}) {
    const auto issues = family_issues_of(R"({"model": {"name": )" + model + "}}");
    EXPECT_EQ(paths_of(issues), (std::vector<std::string>{path})) << model;
    ASSERT_FALSE(issues.empty());
    EXPECT_NE(issues[0].message.find("is out of range"), std::string::npos) << issues[0].message;
  }
  // The bounds themselves are accepted.
  EXPECT_TRUE(issues_of(R"({"model": {"depth": 1000, "embed_dim": 65536, "num_heads": 1024,
      "moe_num_unshared_experts": 1024, "moe_num_shared_experts": 1024},
      "augmentation": {"random_crop_padding": 256}, "resize": 4096, "batch_size": 1048576})")
                  .empty());
}

TEST(Resolve, IntegersBeyondInt64AreRefusedNotWrapped) {
  const auto issues = issues_of(R"({"batch_size": 18446744073709551615})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "batch_size");
  EXPECT_NE(issues[0].message.find("beyond the largest int64"), std::string::npos)
      << issues[0].message;
}

TEST(Resolve, ARefusedDepthIsNotUsedForTheBlockIndices) {
  // "every_other" over a refused depth of 10^12 used to build 5 * 10^11 indices first.
  const auto issues = issues_of(R"({"model": {"depth": 1000000000000,
                                              "moe_layer_indices": "all"}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.depth");
}

TEST(Resolve, TinyTemperaturesAndWeightLimitsAreRefused) {
  // 1e-300 turns into 0 in float32: the division by it made the loss NaN.
  const auto issues = family_issues_of(R"({"model": {"name": "vit_moe_centroid",
      "temperature_start": 1e-300, "temperature_end": 1e-7},
      "loss": {"weight_upper_limit": 1e-300}})");
  EXPECT_EQ(paths_of(issues),
            (std::vector<std::string>{"model.temperature_start", "model.temperature_end",
                                      "loss.weight_upper_limit"}));
  ASSERT_EQ(issues.size(), 3u);
  EXPECT_NE(issues[0].message.find("must be in [1e-06, 1000000.0]"), std::string::npos)
      << issues[0].message;
  EXPECT_TRUE(family_issues_of(R"({"model": {"name": "vit_moe_centroid",
      "temperature_start": 1e-6, "temperature_end": 1e-6},
      "loss": {"weight_upper_limit": 1e-6}})").empty());
}

TEST(Resolve, EchoedKeysAndValuesAreBounded) {
  // A 10 MB key and a 10 MB value: the message names them by their first bytes and length.
  const std::string key(10'000'000, 'k');
  const std::string value(10'000'000, 'v');
  nlohmann::json j = nlohmann::json::object();
  j[key] = 1;
  j["model"] = {{"name", value}};
  j["device"] = value;
  try {
    resolve_run_config(j, kNames, "", "big.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_LT(what.size(), 2000u) << what.substr(0, 2000);
    EXPECT_NE(what.find("(10000000 bytes): unknown key"), std::string::npos) << what;
    EXPECT_NE(what.find("unknown model 'vvvv"), std::string::npos) << what;
    EXPECT_NE(what.find("unknown device 'vvvv"), std::string::npos) << what;
  }
  // A value that is not UTF-8 (from code, not from a file) is escaped, not dumped raw.
  nlohmann::json bad = {{"dataset", std::string("mn\xff")}};
  try {
    resolve_run_config(bad, kNames, "", "bad.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown dataset 'mn\\xFF'"), std::string::npos)
        << e.what();
  }
}

TEST(Resolve, DeviceNamesAreCheckedWithoutARegex) {
  EXPECT_TRUE(issues_of(R"({"device": "cuda:12"})").empty());
  EXPECT_TRUE(issues_of(R"({"device": "cuda"})").empty());
  for (const char* bad : {"cuda:", "cuda:x", "cuda:123456", "gpu", "cuda:1:2"}) {
    const auto issues = issues_of(std::string(R"({"device": ")") + bad + "\"}");
    ASSERT_EQ(issues.size(), 1u) << bad;
    EXPECT_NE(issues[0].message.find("unknown device"), std::string::npos) << bad;
  }
  // A megabyte of device name is refused at once (std::regex recursed once per character).
  nlohmann::json j = {{"device", "cuda:" + std::string(1'000'000, '1')}};
  RunConfig out;
  EXPECT_EQ(check_run_config(j, kNames, "", out).size(), 1u);
}

}  // namespace
}  // namespace moedil::config

namespace moedil::config {
namespace {

const char* const kVitMoeKeys =
    "patch_size, embed_dim, depth, num_heads, mlp_ratio, dropout, layer_norm_eps, init_weights, "
    "pretrained, freeze_backbone, upcycle_noise, moe_layer_indices, moe_num_unshared_experts, moe_num_shared_experts, moe_top_k, "
    "moe_routing_granularity, moe_route_with_cls_token, moe_route_on, moe_gate, moe_noise_std, "
    "moe_capacity_factor, "
    "moe_routing, moe_expert_dropout, moe_balance_losses, moe_unshared_lr_multipliers, "
    "moe_shared_lr_multipliers, num_classes, img_size";

TEST(ResolveModelFamily, AKeyTheFamilyDoesNotReadIsAnErrorNamingKeyFamilyAndItsKeys) {
  const std::string text =
      "{\n  \"model\": {\"name\": \"vit_moe\",\n    \"temperature_start\": 0.5}\n}";
  try {
    resolve_run_config(parse_jsonc(text, "x.jsonc"), with_every_family(), text, "x.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              std::string("x.jsonc: 1 problem in the config:\n  line 3, model.temperature_start: "
                          "not read by model 'vit_moe' (it reads: ") +
                  kVitMoeKeys + ")");
  }
}

TEST(ResolveModelFamily, TheDefaultFamilyIsVitMoe) {
  const auto issues = issues_of(R"({"model": {"resnet_width": 8}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.resnet_width");
  EXPECT_EQ(issues[0].message, std::string("not read by model 'vit_moe' (it reads: ") +
                                   kVitMoeKeys + ")");
}

TEST(ResolveModelFamily, AnUnreadKeyIsOneProblemWhateverItsValue) {
  // Its value is not read, so not checked either: one problem, not two.
  RunConfig out;
  const auto issues = check_run_config(
      parse_jsonc(R"({"model": {"name": "vit", "moe_top_k": "two", "moe_layer_indices": [9],
                     "moe_capacity_factor": 0}})", "t"),
      with_every_family(), "", out);
  std::vector<std::string> paths;
  for (const auto& i : issues) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"model.moe_layer_indices", "model.moe_top_k",
                                             "model.moe_capacity_factor"}));
  for (const auto& i : issues) {
    EXPECT_EQ(i.message,
              "not read by model 'vit' (it reads: patch_size, embed_dim, depth, num_heads, "
              "mlp_ratio, dropout, layer_norm_eps, init_weights, pretrained, freeze_backbone, "
              "moe_route_with_cls_token, num_classes, img_size)");
  }
}

TEST(ResolveModelFamily, OverridesAreCheckedLikeTheFile) {
  nlohmann::json j = parse_jsonc(R"({"model": {"name": "resnet18"}})", "t");
  apply_override(j, "model.embed_dim=32");
  RunConfig out;
  const auto issues = check_run_config(j, with_every_family(), "", out);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.embed_dim");
  EXPECT_EQ(issues[0].line, 0u);
  EXPECT_EQ(issues[0].message,
            "not read by model 'resnet18' (it reads: init_weights, pretrained, freeze_backbone, "
            "resnet_stem, resnet_width, num_classes, img_size)");
  // Switching the family by override keeps the file's keys: those the new family does not
  // read are named.
  nlohmann::json quick = parse_jsonc(R"({"model": {"moe_top_k": 1, "depth": 3}})", "t");
  apply_override(quick, "model.name=vit");
  const auto switched = check_run_config(quick, with_every_family(), "", out);
  ASSERT_EQ(switched.size(), 1u);
  EXPECT_EQ(switched[0].path, "model.moe_top_k");
}

TEST(ResolveModelFamily, DefaultsAndEveryReadKeyAreFineForEveryFamily) {
  for (const ModelFamily& family : model_families()) {
    SCOPED_TRACE(family.name);
    RunConfig c;
    const nlohmann::json only_name = {{"model", {{"name", family.name}}}};
    const auto none = check_run_config(only_name, with_every_family(), "", c);
    EXPECT_TRUE(none.empty()) << none[0].path << ": " << none[0].message;
    // The resolved config holds exactly the family's keys; it resolves again to itself.
    const nlohmann::json resolved = to_json(c);
    std::vector<std::string> written;
    for (const auto& item : resolved.at("model").items()) {
      if (item.key() != "name") written.push_back(item.key());
    }
    std::vector<std::string> expected = family.keys;
    std::sort(written.begin(), written.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(written, expected);
    RunConfig again;
    const auto issues = check_run_config(resolved, with_every_family(), "", again);
    EXPECT_TRUE(issues.empty()) << issues[0].path << ": " << issues[0].message;
    EXPECT_EQ(to_json(again), resolved);
  }
}

TEST(ResolveModelFamily, ConfigsStoredWithEveryModelKeyResolveAfterDroppingTheUnreadOnes) {
  // run.json of a run saved before the families owned their keys: every model key.
  nlohmann::json stored = to_json(RunConfig{});
  stored["model"]["name"] = "vit";
  stored["model"]["temperature_start"] = 1.0;
  stored["model"]["moe_top_k"] = 1;
  RunConfig out;
  EXPECT_EQ(check_run_config(stored, with_every_family(), "", out).size(), 16u);
  const nlohmann::json cleaned = without_unread_model_keys(stored);
  EXPECT_FALSE(cleaned["model"].contains("moe_top_k"));
  EXPECT_EQ(cleaned["model"]["patch_size"], 7);
  EXPECT_TRUE(check_run_config(cleaned, with_every_family(), "", out).empty());
  EXPECT_EQ(out.model.name, "vit");
  // Not a config, or an unknown family: unchanged.
  EXPECT_EQ(without_unread_model_keys(nlohmann::json(3)), nlohmann::json(3));
  const nlohmann::json unknown = {{"model", {{"name", "resnet19"}, {"moe_top_k", 1}}}};
  EXPECT_EQ(without_unread_model_keys(unknown), unknown);
}

TEST(ResolveModelFamily, AnUnknownModelNameRestrictsNoKey) {
  const auto issues = issues_of(R"({"model": {"name": "resnet19", "temperature_start": 0.5}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.name");
}

TEST(ResolveModelFamily, EachFamilysRulesAreCheckedOnce) {
  // embed_dim 30 over 4 heads and top-k 3 of 2 experts: one problem each, from the family
  // (model.num_heads is not in the text: without a line, it comes last).
  const auto issues = issues_of(R"({"model": {"embed_dim": 30, "moe_top_k": 3,
                                    "moe_num_unshared_experts": 2}})");
  std::vector<std::string> messages;
  for (const auto& i : issues) messages.push_back(i.path + ": " + i.message);
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                "model.moe_top_k: 3 is out of range: must be <= model.moe_num_unshared_experts "
                "(2)",
                "model.num_heads: model.embed_dim (30) must be divisible by model.num_heads (4)"}));
}

}  // namespace
}  // namespace moedil::config
