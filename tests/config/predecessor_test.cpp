// The predecessor's model and dataset names and its loss.lr, read with their meaning.
#include "moedil/config/predecessor.h"

#include <gtest/gtest.h>

#include <string>

#include "moedil/config/jsonc.h"

namespace moedil::config {
namespace {

using json = nlohmann::json;

const NameCatalog kNames{{"fashion_mnist", "officehome", "synthetic"},
                         {"static", "rotate", "domainIncremental"},
                         {"vit", "vit_moe", "switch_moe_vit", "resnet18"},
                         {"sgd", "adam", "adamw"},
                         {"cross_entropy"},
                         {"none", "step", "cosine", "linear"},
                         {"fifo", "reservoir", "class_balanced"},
                         {"switch"},
                         {}};

TEST(Predecessor, ModelAliasesMapToMoedilsFamilies) {
  EXPECT_EQ(model_alias("moe_vit"), "vit_moe");
  EXPECT_EQ(model_alias("MoE_ViT"), "vit_moe");
  for (const char* name : {"vit_switch_moe", "switch_moe", "vit_switch"}) {
    EXPECT_EQ(model_alias(name), "switch_moe_vit") << name;
  }
  EXPECT_EQ(model_alias("resnet18-cifar"), "resnet18");
  EXPECT_EQ(model_alias("ViT_MoE"), "vit_moe");  // the predecessor lower-cased names
  EXPECT_EQ(model_alias("vit_moe"), "");          // moedil's own name: nothing to map
  EXPECT_EQ(model_alias("moe-vit"), "");          // not a predecessor name either
  EXPECT_EQ(dataset_alias("OfficeHomeDataset"), "officehome");
  EXPECT_EQ(dataset_alias("officehome_10072016"), "officehome");
  EXPECT_EQ(dataset_alias("office-home"), "officehome");
  EXPECT_EQ(dataset_alias("officehome"), "");
}

TEST(Predecessor, AResolvedConfigRecordsMoedilsNames) {
  const RunConfig c = resolve_run_config(
      json::parse(R"({"dataset": "office-home", "model": {"name": "moe_vit"}})"), kNames);
  EXPECT_EQ(c.dataset, "officehome");
  EXPECT_EQ(c.model.name, "vit_moe");
  EXPECT_EQ(to_json(c)["model"]["name"], "vit_moe");
  // -cifar is the CIFAR stem; a given stem stays.
  EXPECT_EQ(resolve_run_config(json::parse(R"({"model": {"name": "resnet18-cifar"}})"), kNames)
                .model.resnet_stem,
            "cifar");
  EXPECT_EQ(resolve_run_config(json::parse(R"({"model": {"name": "resnet18-cifar",
                                             "resnet_stem": "imagenet"}})"),
                               kNames)
                .model.resnet_stem,
            "imagenet");
  // A model key the aliased family does not read is still refused, naming moedil's family.
  RunConfig out;
  const auto issues = check_run_config(
      json::parse(R"({"model": {"name": "vit_switch", "moe_top_k": 2}})"), kNames, "", out);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.moe_top_k");
  EXPECT_NE(issues[0].message.find("switch_moe_vit"), std::string::npos) << issues[0].message;
}

TEST(Predecessor, LossLrIsTheLearningRate) {
  const auto lr = [](const char* text) {
    return resolve_run_config(json::parse(text), kNames).optimizer.lr;
  };
  EXPECT_EQ(lr(R"({"loss": {"lr": 0.0003}})"), 0.0003);
  EXPECT_EQ(lr(R"({"loss": {"name": "cross_entropy", "lr": 0.0003},
                   "optimizer": {"name": "adamw"}})"),
            0.0003);
  EXPECT_EQ(lr(R"({"loss": {"lr": 0.01}, "optimizer": {"lr": 0.01}})"), 0.01);
  EXPECT_FALSE(to_json(resolve_run_config(json::parse(R"({"loss": {"lr": 0.0003}})"), kNames))
                   ["loss"]
                   .contains("lr"));
  // Two different learning rates: which one the user meant is not guessed.
  const std::string text = "{\n  \"optimizer\": {\"lr\": 0.1},\n  \"loss\": {\"lr\": 0.001}\n}";
  RunConfig out;
  const auto issues = check_run_config(parse_jsonc(text, "p.jsonc"), kNames, text, out);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "loss.lr");
  EXPECT_EQ(issues[0].line, 3u);
  EXPECT_NE(issues[0].message.find("optimizer.lr is 0.1: set one of them"), std::string::npos)
      << issues[0].message;
  // A bad value is validation's to judge, under the key it ends up in.
  const auto bad = check_run_config(json::parse(R"({"loss": {"lr": -1}})"), kNames, "", out);
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, "optimizer.lr");
}

}  // namespace
}  // namespace moedil::config
