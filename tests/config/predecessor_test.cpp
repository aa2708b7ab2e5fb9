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
                         {"vit", "vit_moe", "switch_moe_vit", "resnet18", "convnext_tiny",
                          "vit_moe_imagelevel"},
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

RunConfig read(const std::string& text) { return resolve_run_config(json::parse(text), kNames); }

std::vector<ConfigIssue> problems(const std::string& text) {
  RunConfig out;
  return check_run_config(json::parse(text), kNames, "", out);
}

bool has_note(const RunConfig& c, const std::string& part) {
  for (const auto& note : c.notes) {
    if (note.find(part) != std::string::npos) return true;
  }
  return false;
}

// Where the predecessor read null as None, the default applies.
TEST(Predecessor, NullsAreTheDefaults) {
  const RunConfig c = read(R"({"mini_dataset": null, "router_lr_multiplier": null,
      "scheduler": {"name": "cosine", "T_max": null},
      "model": {"num_classes": null, "img_size": null, "pretrained_vit": null,
                "pretrained_vit_tiny_path": null},
      "baseline": {"accuracies": null}, "pretrain_scheduler": {"name": null},
      "router_balancing": false, "router_balance_strength": null})");
  EXPECT_EQ(c.mini_dataset, 0);
  EXPECT_EQ(c.router_lr_multiplier, 1.0);
  EXPECT_EQ(c.model.num_classes, 0);
  EXPECT_TRUE(c.baseline.accuracies.empty());
  EXPECT_EQ(c.pretrain.scheduler, "none");
  EXPECT_EQ(c.router_balance_strength, 0.0);
  // With router_balancing the predecessor failed on a null weight: refused.
  const auto issues = problems(R"({"router_balancing": true, "router_balance_strength": null})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "router_balance_strength");
}

// What loaded nothing there starts at random here too, with a note; what loaded weights is
// refused naming the way to give them.
TEST(Predecessor, PretrainedKeysLoadWhatTheyLoadedOrAreRefused) {
  const RunConfig vit = read(R"({"model": {"name": "moe_vit", "pretrained": true,
                                           "pretrained_vit": true}})");
  EXPECT_TRUE(has_note(vit, "model.pretrained: true: the predecessor's ViT models ignored it"));
  EXPECT_TRUE(has_note(vit, "model.pretrained_vit: true loaded nothing"));
  EXPECT_TRUE(read(R"({"model": {"pretrained": false}})").notes.empty());
  for (const char* text :
       {R"({"model": {"name": "resnet18", "pretrained": true}})",
        R"({"model": {"name": "vit_moe", "pretrained_vit": "small"}})",
        R"({"model": {"name": "vit_moe", "pretrained_vit_tiny_path": "t.pth"}})"}) {
    const auto issues = problems(text);
    ASSERT_EQ(issues.size(), 1u) << text;
    EXPECT_NE(issues[0].message.find("model.init_weights"), std::string::npos) << text;
  }
}

TEST(Predecessor, BaselineTrainDecidesAndTrainsEpochsPerDomain) {
  const RunConfig c =
      read(R"({"epochs_per_domain": 3, "baseline": {"enabled": true, "train": true}})");
  EXPECT_TRUE(c.baseline.enabled);
  EXPECT_EQ(c.baseline.epochs, 3);
  EXPECT_TRUE(has_note(c, "baseline.train"));
  EXPECT_FALSE(read(R"({"baseline": {"train": false}})").baseline.enabled);
  EXPECT_EQ(read(R"({"baseline": {"enabled": true}})").baseline.epochs, 1);  // moedil's keys
  const auto issues = problems(R"({"baseline": {"enabled": true, "train": false}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].message.find("the predecessor read only train"), std::string::npos);
}

TEST(Predecessor, PretrainEpochsLeftOutAreEpochsPerDomain) {
  EXPECT_EQ(read(R"({"epochs_per_domain": 4, "pretrain": {"enabled": false}})").pretrain.epochs,
            4);
  EXPECT_EQ(read(R"({"pretrain": {"num_samples": 0}})").pretrain.epochs, 1);
  EXPECT_EQ(read(R"({"pretrain": {"epochs": 2}})").pretrain.epochs, 2);
}

TEST(Predecessor, NumExpertsIsTheRoutedExpertCount) {
  EXPECT_EQ(read(R"({"model": {"name": "switch_moe_vit", "num_experts": 3}})")
                .model.moe_num_unshared_experts,
            3);
  const auto issues =
      problems(R"({"model": {"num_experts": 3, "moe_num_unshared_experts": 4}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.num_experts");
}

// The predecessor's last version: the odd blocks of the back half; null is block 1.
TEST(Predecessor, BackHalfEveryOtherAndNullLayerIndices) {
  EXPECT_EQ(read(R"({"model": {"depth": 12, "moe_layer_indices": "back_half_every_other"}})")
                .model.moe_layer_indices,
            (std::vector<int64_t>{7, 9, 11}));
  EXPECT_EQ(read(R"({"model": {"depth": 8, "moe_layer_indices": "back_half_every_other"}})")
                .model.moe_layer_indices,
            (std::vector<int64_t>{5, 7}));
  const RunConfig null = read(R"({"model": {"depth": 4, "moe_layer_indices": null}})");
  EXPECT_EQ(null.model.moe_layer_indices, std::vector<int64_t>{1});
  EXPECT_TRUE(has_note(null, "model.moe_layer_indices: null is block 1"));
}

// Keys the predecessor read nowhere are dropped (or kept without effect) with a note, so a user
// porting a config learns that they never did anything.
TEST(Predecessor, KeysThePredecessorNeverReadChangeNothingAndSaySo) {
  const RunConfig c = read(R"({"warmup_epochs": 2, "warmup_starting_LR": 1e-5,
      "loss": {"name": "cross_entropy", "weighted": true},
      "router_lr_multiplier_after_epochs": 2})");
  EXPECT_EQ(c.scheduler.warmup_epochs, 0);
  EXPECT_TRUE(has_note(c, "warmup_epochs: read by no predecessor code"));
  EXPECT_TRUE(has_note(c, "warmup_starting_LR: read by no predecessor code"));
  EXPECT_TRUE(has_note(c, "loss.weighted: read by none of the predecessor's losses"));
  EXPECT_TRUE(has_note(c, "router_lr_multiplier_after_epochs: changes nothing here"));
  EXPECT_EQ(c.router_lr_multiplier_after_epochs, 2);
  EXPECT_EQ(read(R"({"router_lr_multiplier_after_batches": 3})").router_lr_multiplier_after_epochs,
            3);
  EXPECT_TRUE(read("{}").notes.empty());
}

// The predecessor's augmentation keys: random_crop is RandomCrop(S, padding 4), random_flip a
// flip with p 0.5, and S (augmentation.resize) defaults to 32 when a crop is on.
TEST(Predecessor, AugmentationKeysAreMoedilsStepsWithTheCropSide) {
  const RunConfig c = read(R"({"augmentation": {"random_resize_crop": true, "random_crop": true,
      "random_flip": true, "color_jitter": true, "blur": false, "noise": true, "resize": 28}})");
  EXPECT_TRUE(c.augmentation.random_resize_crop);
  EXPECT_EQ(c.augmentation.random_crop_padding, 4);
  EXPECT_TRUE(c.augmentation.horizontal_flip);
  EXPECT_TRUE(c.augmentation.color_jitter);
  EXPECT_FALSE(c.augmentation.blur);
  EXPECT_TRUE(c.augmentation.noise);
  EXPECT_EQ(c.augmentation.crop_size, 28);
  EXPECT_EQ(read(R"({"augmentation": {"random_crop": true}})").augmentation.crop_size, 32);
  EXPECT_EQ(read(R"({"augmentation": {"random_crop": false, "random_flip": false}})")
                .augmentation.random_crop_padding,
            0);
  EXPECT_EQ(read(R"({"augmentation": {"noise": true}})").augmentation.crop_size, 0);
  const auto issues = problems(R"({"augmentation": {"random_crop": true,
                                                    "random_crop_padding": 2}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "augmentation.random_crop");
}

// Keys the predecessor's model factories took and ignored are dropped with a note; its switch
// model's experts were always the last 4 blocks.
TEST(Predecessor, ModelKeysThePredecessorsFactoriesIgnoredAreDroppedWithANote) {
  const RunConfig vit = read(R"({"model": {"name": "vit_moe", "route_with_cls_token": true}})");
  EXPECT_TRUE(vit.model.moe_route_with_cls_token);
  EXPECT_TRUE(has_note(vit, "model.route_with_cls_token: ignored by the predecessor's vit_moe"));
  const RunConfig image = read(R"({"model": {"name": "vit_moe_imagelevel",
                                             "route_with_CLS_token": false}})");
  EXPECT_TRUE(has_note(image, "model.route_with_CLS_token"));
  const RunConfig sw = read(R"({"model": {"name": "vit_switch_moe", "upper_blocks": 2,
      "route_with_class_token": false, "prototype_init_domains": [0, 1], "depth": 6}})");
  EXPECT_EQ(sw.model.expert_depth, 4);
  EXPECT_TRUE(has_note(sw, "always the last 4 blocks"));
  EXPECT_TRUE(has_note(sw, "model.prototype_init_domains"));
  const RunConfig conv = read(R"({"model": {"name": "convnext_tiny", "patch_size": 16,
                                            "embed_dim": 384, "depth": 12}})");
  EXPECT_TRUE(has_note(conv, "model.patch_size: a ViT key"));
  EXPECT_TRUE(has_note(conv, "model.depth: a ViT key"));
  // moedil's own families still refuse keys they do not read.
  EXPECT_EQ(problems(R"({"model": {"name": "resnet18", "patch_size": 16}})").size(), 1u);
}

// model.moe_expert_lr_multiplier (and the absolute moe_expert_lr) were read by the
// predecessor's baseline builder only.
TEST(Predecessor, ExpertLrKeysOfTheModelAreTheBaselinesOnly) {
  const RunConfig c = read(R"({"model": {"moe_expert_lr_multiplier": 3.0},
                               "baseline": {"train": true}})");
  EXPECT_EQ(c.baseline.expert_lr_multiplier, 3.0);
  EXPECT_EQ(c.moe_expert_lr_multiplier, 1.0);
  EXPECT_TRUE(has_note(c, "baselines' experts only"));
  EXPECT_EQ(read(R"({"loss": {"lr": 0.001}, "model": {"moe_expert_lr": 0.004}})")
                .baseline.expert_lr_multiplier,
            4.0);
  EXPECT_EQ(read("{}").baseline.expert_lr_multiplier, -1.0);  // null: the main run's
}

// The predecessor's "vit" configs: vit_moe with no routed expert chosen and one shared expert,
// whose layers were that expert alone: a ViT with an MLP in every block.
TEST(Predecessor, SharedExpertOnlyVitMoeIsAPlainVit) {
  for (const char* text :
       {R"({"model": {"name": "vit_moe", "moe_num_unshared_experts": 0, "moe_top_k": 0,
                      "moe_num_shared_experts": 1, "moe_layer_indices": [1]}})",
        R"({"model": {"name": "moe_vit", "moe_num_unshared_experts": 4, "moe_top_k": 0,
                      "moe_num_shared_experts": 1}})"}) {
    const RunConfig c = read(text);
    EXPECT_EQ(c.model.name, "vit") << text;
    EXPECT_TRUE(has_note(c, "moedil's vit")) << text;
  }
  const auto none = problems(R"({"model": {"moe_num_unshared_experts": 1, "moe_top_k": 0,
                                          "moe_num_shared_experts": 0}})");
  ASSERT_FALSE(none.empty());
  EXPECT_NE(none[0].message.find("passed the layer's input through unchanged"),
            std::string::npos);
  const auto summed = problems(R"({"model": {"moe_num_unshared_experts": 0, "moe_top_k": 0,
                                            "moe_num_shared_experts": 4}})");
  ASSERT_FALSE(summed.empty());
  EXPECT_NE(summed[0].message.find("summed the 4 shared experts"), std::string::npos);
  EXPECT_EQ(read(R"({"model": {"moe_top_k": 1}})").model.name, "vit_moe");
}

// The predecessor subsampled cifar10 only: on its other datasets mini_dataset changed nothing.
TEST(Predecessor, MiniDatasetOnCore50OrOfficeHomeChangesNothing) {
  const RunConfig c = read(R"({"dataset": "officehome", "mini_dataset": 1200})");
  EXPECT_EQ(c.mini_dataset, 0);
  EXPECT_TRUE(has_note(c, "mini_dataset: the predecessor applied it to cifar10 only"));
  EXPECT_EQ(read(R"({"dataset": "synthetic", "mini_dataset": 120})").mini_dataset, 120);
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
