// The predecessor's model and dataset names and its loss.lr, read with their meaning.
#include "moedil/config/predecessor.h"

#include <gtest/gtest.h>

#include <string>

#include "moedil/config/jsonc.h"

namespace moedil::config {
namespace {

using json = nlohmann::json;

const NameCatalog kNames{{"fashion_mnist", "officehome", "synthetic", "imagefolder", "cifar10"},
                         {"static", "rotate", "domainIncremental"},
                         {"vit", "vit_moe", "switch_moe_vit", "resnet18", "convnext_tiny",
                          "vit_moe_imagelevel", "hetero_moe", "vit_prototype_heads"},
                         {"sgd", "adam", "adamw"},
                         {"cross_entropy"},
                         {"none", "step", "cosine", "cosine_annealing", "linear", "linear_lr"},
                         {"fifo", "reservoir", "class_balanced"},
                         {"switch", "mean_prob_mse"},
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

// What loaded nothing there starts at random here too, with a note; what loaded weights reads
// the file under weights_dir (config/pretrained.h, tests/config/pretrained_test.cpp).
TEST(Predecessor, PretrainedKeysLoadWhatTheyLoadedThere) {
  const RunConfig vit = read(R"({"model": {"name": "moe_vit", "pretrained": true,
                                           "pretrained_vit": true}})");
  EXPECT_TRUE(has_note(vit, "model.pretrained: true: the predecessor's ViT models ignored it"));
  EXPECT_TRUE(has_note(vit, "model.pretrained_vit: true loaded nothing"));
  EXPECT_EQ(vit.model.pretrained, "");
  EXPECT_TRUE(read(R"({"model": {"pretrained": false, "patch_size": 7, "embed_dim": 64,
                                 "depth": 4, "num_heads": 4, "mlp_ratio": 2}})")
                  .notes.empty());
  const RunConfig resnet = read(R"({"weights_dir": "w", "model": {"name": "resnet18",
                                                                 "pretrained": true}})");
  EXPECT_EQ(resnet.model.pretrained, "w/resnet18.pt");
  EXPECT_EQ(resnet.model.resnet_width, 64);  // the file's width
  const RunConfig small = read(R"({"weights_dir": "w", "model": {"name": "vit_moe",
                                                                "pretrained_vit": "small"}})");
  EXPECT_EQ(small.model.pretrained, "w/vit_small.pt");
  EXPECT_EQ(small.model.embed_dim, 384);
  EXPECT_EQ(read(R"({"model": {"name": "vit_moe", "pretrained_vit_tiny_path": "t.pth"}})")
                .model.pretrained,
            "t.pth");
  // The previous version's form: the file given as init_weights is the pretrained start.
  const RunConfig file = read(R"({"model": {"name": "resnet18", "pretrained": true,
                                            "init_weights": "resnet18.pt"}})");
  EXPECT_EQ(file.model.pretrained, "resnet18.pt");
  EXPECT_EQ(file.model.init_weights, "");
  EXPECT_TRUE(has_note(file, "model.init_weights: resnet18.pt is the pretrained start"));
}

// Its switch model was always timm's pretrained ViT-S/16 with the lower part frozen, whatever
// pretrained_vit said.
TEST(Predecessor, SwitchModelIsAlwaysThePretrainedVitSmall) {
  for (const char* pretrained : {"false", "true", "null", "\"small\""}) {
    const RunConfig c = read(std::string(R"({"weights_dir": "w", "model": {"name": "vit_switch_moe",
        "upper_blocks": 4, "pretrained_vit": )") + pretrained + "}}");
    EXPECT_EQ(c.model.name, "switch_moe_vit");
    EXPECT_EQ(c.model.pretrained, "w/vit_small.pt") << pretrained;
    EXPECT_EQ(c.model.embed_dim, 384);
    EXPECT_EQ(c.model.depth, 12);
    EXPECT_EQ(c.model.expert_depth, 4);
    EXPECT_TRUE(c.model.freeze_shared);
    EXPECT_EQ(c.model.layer_norm_eps, 1e-6);  // timm's blocks
    EXPECT_EQ(has_note(c, "loaded timm's pretrained ViT-S/16 whatever it said"),
              std::string(pretrained) != "\"small\"")
        << pretrained;
  }
  // moedil's own name keeps moedil's meaning: no pretrained start unless asked for.
  EXPECT_EQ(read(R"({"model": {"name": "switch_moe_vit"}})").model.pretrained, "");
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
  EXPECT_EQ(read(R"({"model": {"name": "vit_moe_imagelevel", "num_experts": 5}})")
                .model.moe_num_unshared_experts,
            5);
  const auto issues = problems(R"({"model": {"name": "switch_moe_vit", "num_experts": 3,
                                             "moe_num_unshared_experts": 4}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.num_experts");
  // The predecessor's vit_moe factory ignored num_experts (and the image-level model's keys).
  const RunConfig vit_moe = read(R"({"model": {"name": "vit_moe", "num_experts": 3,
      "moe_anneal_epochs": 10, "routing_temp": 1.0}})");
  EXPECT_EQ(vit_moe.model.moe_num_unshared_experts, ModelConfig{}.moe_num_unshared_experts);
  EXPECT_TRUE(has_note(vit_moe, "model.num_experts: ignored by the predecessor's vit_moe"));
  EXPECT_TRUE(has_note(vit_moe, "model.routing_temp: ignored by the predecessor's vit_moe"));
  EXPECT_EQ(problems(R"({"model": {"name": "vit_moe", "moe_lambda": 1}})").size(), 1u)
      << "other unknown keys stay errors";
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
      "route_with_class_token": false, "prototype_init_domains": [0, 1]}})");
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

// The predecessor's vit_moe_imagelevel: its factory's defaults, its keys that change nothing
// (auxiliary terms without gradient, temperature, sampling) accepted with one note, its layer
// choices, its alias.
TEST(Predecessor, ImageLevelModelKeepsItsDefaultsAndItsInertKeys) {
  const RunConfig bare = read(R"({"model": {"name": "vit_moe_img"}})");
  EXPECT_EQ(bare.model.name, "vit_moe_imagelevel");
  EXPECT_EQ(bare.model.patch_size, 16);
  EXPECT_EQ(bare.model.embed_dim, 256);
  EXPECT_EQ(bare.model.depth, 10);
  EXPECT_EQ(bare.model.num_heads, 4);
  EXPECT_EQ(bare.model.mlp_ratio, 1.0);
  EXPECT_EQ(bare.model.moe_layer_indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(bare.model.moe_num_unshared_experts, 4);
  EXPECT_EQ(bare.model.alpha_fast, 0.8);
  EXPECT_EQ(bare.model.alpha_slow, 0.99);
  const RunConfig c = read(R"({"router_balancing": true, "router_balance_strength": 0.1,
      "model": {"name": "vit_moe_imagelevel", "depth": 4, "num_experts": 3,
                "moe_layer_indices": "every_other", "alpha_fast": 0.7, "alpha_slow": 0.995,
                "repulsion_k": 2, "repulsion_margin": 0.15, "moe_lambda_fast": 0.0,
                "moe_lambda_slow": 0.02, "moe_lambda_align": 0.3, "moe_lambda_cons": 0.05,
                "moe_lambda_lb_init": 1.0, "moe_anneal_epochs": 10, "detach_align_steps": 10,
                "routing_temp": 1.0, "routing_anneal_epochs": 2, "routing_sample": true,
                "argmax_routing_start_epoch": 3, "moe_route_with_cls_token": false}})");
  EXPECT_EQ(c.model.moe_num_unshared_experts, 3);
  EXPECT_EQ(c.model.moe_layer_indices, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(c.model.alpha_fast, 0.7);
  EXPECT_EQ(c.model.alpha_slow, 0.995);
  EXPECT_TRUE(has_note(c, "model.repulsion_k, repulsion_margin, moe_lambda_fast"));
  EXPECT_TRUE(has_note(c, "constants without gradient"));
  EXPECT_TRUE(has_note(c, "model.moe_route_with_cls_token: ignored by the predecessor's "
                          "vit_moe_imagelevel factory"));
  EXPECT_TRUE(has_note(c, "router_balancing: the predecessor's vit_moe_imagelevel balance"));
  // Any other string, or null, was every block there.
  for (const char* layers : {R"("back_half_every_other")", "null"}) {
    const RunConfig all = read(std::string(R"({"model": {"name": "vit_moe_imagelevel",
        "depth": 3, "moe_layer_indices": )") + layers + "}}");
    EXPECT_EQ(all.model.moe_layer_indices, (std::vector<int64_t>{0, 1, 2})) << layers;
    EXPECT_TRUE(has_note(all, "meant every block")) << layers;
  }
  // A value of the wrong type is still an error; moedil's own centroid keys are not read.
  const auto bad = problems(R"({"model": {"name": "vit_moe_imagelevel",
                                          "moe_lambda_align": "high"}})");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, "model.moe_lambda_align");
  EXPECT_EQ(problems(R"({"model": {"name": "vit_moe_imagelevel",
                                   "temperature_start": 2.0}})").size(), 1u);
}

// moe_route_with_cls_token is the CLS token now: a note says what it meant in moedil before;
// hetero_moe's former key becomes its routing input.
TEST(Predecessor, ClsTokenKeyMeansTheClsTokenWithANote) {
  const RunConfig vit = read(R"({"model": {"name": "vit_moe", "moe_route_with_cls_token": false}})");
  EXPECT_FALSE(vit.model.moe_route_with_cls_token);
  EXPECT_EQ(vit.model.moe_route_on, "mean");
  EXPECT_TRUE(has_note(vit, "model.moe_route_with_cls_token: false is a ViT without a CLS token"));
  const RunConfig hetero =
      read(R"({"model": {"name": "hetero_moe", "moe_route_with_cls_token": false}})");
  EXPECT_EQ(hetero.model.moe_route_on, "mean");
  EXPECT_EQ(hetero.model.moe_balance_losses, (std::map<std::string, double>{{"switch", 1.0}}));
  EXPECT_TRUE(has_note(hetero, "hetero_moe's routing input is moe_route_on now (mean)"));
}

// The predecessor's main schedulers were torch's, built once and stepped every epoch of the
// whole run: cosine = CosineAnnealingLR, linear = LinearLR, step = StepLR (step_size 10). A
// scheduler without per_domain keeps that meaning; with per_domain it is moedil's.
TEST(Predecessor, SchedulersWithoutPerDomainAreThePredecessorsTorchSchedulers) {
  const RunConfig c = read(R"({"scheduler": {"name": "cosine", "T_max": null}})");
  EXPECT_EQ(c.scheduler.name, "cosine_annealing");
  EXPECT_FALSE(c.scheduler.per_domain);
  EXPECT_EQ(c.scheduler.T_max, 0);
  EXPECT_TRUE(has_note(c, "scheduler: cosine without per_domain is the predecessor's torch"));
  EXPECT_EQ(read(R"({"scheduler": {"name": "cosine", "T_max": 5}})").scheduler.T_max, 5);
  const RunConfig cosine = read(R"({"scheduler": {"name": "cosine", "min_lr": 0.01}})");
  EXPECT_EQ(cosine.scheduler.name, "cosine_annealing");  // eta_min
  EXPECT_EQ(cosine.scheduler.min_lr, 0.01);
  // A config moedil wrote (it always has per_domain) keeps its cosine: resolving twice is stable.
  const RunConfig written = read(R"({"scheduler": {"name": "cosine", "per_domain": false,
                                                   "T_max": 0}})");
  EXPECT_EQ(written.scheduler.name, "cosine");
  EXPECT_EQ(read(to_json(c).dump()).scheduler.name, "cosine_annealing");
  EXPECT_EQ(to_json(read(to_json(written).dump())), to_json(written));
  const RunConfig own = read(R"({"scheduler": {"name": "cosine", "per_domain": true}})");
  EXPECT_EQ(own.scheduler.name, "cosine");
  EXPECT_TRUE(own.notes.empty());

  // linear: LinearLR with the predecessor's defaults 0.1 -> 1.0 over epochs_per_domain epochs.
  const RunConfig linear = read(R"({"scheduler": {"name": "linear", "total_iters": null}})");
  EXPECT_EQ(linear.scheduler.name, "linear_lr");
  EXPECT_FALSE(linear.scheduler.per_domain);
  EXPECT_EQ(linear.scheduler.start_factor, 0.1);
  EXPECT_EQ(linear.scheduler.end_factor, 1.0);
  EXPECT_EQ(linear.scheduler.total_iters, 0);
  EXPECT_TRUE(has_note(linear, "is the predecessor's torch LinearLR over the whole run"));
  const RunConfig given = read(R"({"scheduler": {"name": "linear", "start_factor": 1.0,
                                                 "end_factor": 0.2, "total_iters": 7}})");
  EXPECT_EQ(given.scheduler.start_factor, 1.0);
  EXPECT_EQ(given.scheduler.end_factor, 0.2);
  EXPECT_EQ(given.scheduler.total_iters, 7);
  EXPECT_EQ(to_json(read(to_json(given).dump())), to_json(given));
  EXPECT_EQ(read(R"({"scheduler": {"name": "linear", "per_domain": true}})").scheduler.name,
            "linear");
  // moedil's linear decays to min_lr: with min_lr and no per_domain, the config is ambiguous.
  auto issues = problems(R"({"scheduler": {"name": "linear", "min_lr": 0.001}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "scheduler.min_lr");
  EXPECT_NE(issues[0].message.find("add per_domain"), std::string::npos) << issues[0].message;
  // The LinearLR keys belong to linear_lr only.
  issues = problems(R"({"scheduler": {"name": "linear", "per_domain": true, "end_factor": 0.5}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "scheduler");

  // moedil's names of torch's schedulers run once over the whole run unless per_domain says.
  EXPECT_FALSE(read(R"({"scheduler": {"name": "linear_lr"}})").scheduler.per_domain);
  EXPECT_FALSE(read(R"({"scheduler": {"name": "cosine_annealing"}})").scheduler.per_domain);
  EXPECT_TRUE(read(R"({"scheduler": {"name": "linear_lr", "per_domain": true}})")
                  .scheduler.per_domain);

  // step: StepLR over the whole run, step_size 10 unless given.
  const RunConfig step = read(R"({"scheduler": {"name": "step"}})");
  EXPECT_EQ(step.scheduler.name, "step");
  EXPECT_FALSE(step.scheduler.per_domain);
  EXPECT_EQ(step.scheduler.step_size, 10);
  EXPECT_DOUBLE_EQ(step.scheduler.gamma, 0.1);
  EXPECT_TRUE(has_note(step, "is the predecessor's torch StepLR"));
  EXPECT_EQ(read(R"({"scheduler": {"name": "step", "step_size": 3}})").scheduler.step_size, 3);
  EXPECT_EQ(read(R"({"scheduler": {"name": "step", "per_domain": true}})").scheduler.step_size, 1);

  issues = problems(R"({"scheduler": {"name": "step", "T_max": 3}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "scheduler.T_max");
}

// The predecessor's CIFAR-10 was its training split alone (mini_dataset drawn from it); its
// pretraining drew from the whole dataset (pretrain.draw's default).
TEST(Predecessor, Cifar10IsItsTrainingSplitAndPretrainingDrawsFromTheDataset) {
  const RunConfig c = read(R"({"dataset": "CIFAR10", "mini_dataset": 1000,
                               "pretrain": {"enabled": true, "num_samples": 100}})");
  EXPECT_EQ(c.dataset, "cifar10");
  EXPECT_EQ(c.dataset_split, "train");
  EXPECT_EQ(c.mini_dataset, 1000);
  EXPECT_EQ(c.pretrain.draw, "dataset");
  EXPECT_TRUE(has_note(c, "dataset_split: train: the predecessor's cifar10 was the 50000"));
  // moedil's own choices stay: a written config, or one that says which split to test on.
  EXPECT_EQ(read(R"({"dataset": "cifar10", "scheduler": {"per_domain": true}})").dataset_split,
            "all");
  EXPECT_EQ(read(R"({"dataset": "cifar10", "test_split": "dataset"})").dataset_split, "all");
  EXPECT_EQ(to_json(read(to_json(c).dump())), to_json(c));
  EXPECT_EQ(problems(R"({"dataset": "cifar10", "dataset_split": "train",
                         "test_split": "dataset"})").at(0).path,
            "dataset_split");
  const RunConfig replaced = read(R"({"pretrain": {"enabled": true, "with_replacement": true}})");
  EXPECT_TRUE(has_note(replaced, "the predecessor shrank train_frac by num_samples / N"));
}

// Its prototype-router head (PretrainedViTPrototypeMoE) is vit_prototype_heads on timm's
// ViT-S/16; router_lr_multiplier 0 froze its prototypes; the keys that changed nothing there are
// dropped with a note.
TEST(Predecessor, PretrainedVitMoeHeadIsVitPrototypeHeadsOnViTSmall) {
  const RunConfig c = read(R"({"weights_dir": "w", "router_lr_multiplier": 0.0,
      "model": {"name": "pretrained_vit_moe_head", "num_classes": 50, "pretrained": true,
                "num_experts": 4, "prototype_ema": 0.99, "router_temperature": 0.05,
                "freeze_encoder": true, "use_attraction": true, "use_repulsion": true,
                "use_consistency": false, "use_global_classification": false,
                "loss_weights": {"attraction": 1.0, "repulsion": 1.0, "consistency": 0.0,
                                 "classification": 0.0}}})");
  EXPECT_EQ(c.model.name, "vit_prototype_heads");
  EXPECT_EQ(c.model.pretrained, "w/vit_small.pt");
  EXPECT_EQ(c.model.patch_size, 16);
  EXPECT_EQ(c.model.embed_dim, 384);
  EXPECT_EQ(c.model.depth, 12);
  EXPECT_EQ(c.model.num_heads, 6);
  EXPECT_EQ(c.model.moe_num_unshared_experts, 4);
  EXPECT_EQ(c.model.ema_alpha, 1.0);  // frozen by router_lr_multiplier 0
  EXPECT_EQ(c.model.router_temperature, 0.05);
  EXPECT_EQ(c.model.head_mixing, "selected");
  EXPECT_FALSE(c.model.freeze_backbone);  // freeze_encoder was never applied
  EXPECT_TRUE(has_note(c, "model.ema_alpha: 1 (the prototypes never move): router_lr_multiplier"));
  EXPECT_TRUE(has_note(c, "model.freeze_encoder: stored but never applied"));
  EXPECT_TRUE(has_note(c, "model.loss_weights: the predecessor's attraction, repulsion"));
  EXPECT_TRUE(has_note(c, "model.pretrained: ignored by the predecessor's pretrained_vit_moe_head"));
  // Its other names; a routing that trains keeps prototype_ema; the global classification is
  // the weighted mixing; its default keep rate is 0.99.
  const RunConfig moving = read(R"({"model": {"name": "vit_moe_proto", "prototype_ema": 0.9,
                                              "use_global_classification": true}})");
  EXPECT_EQ(moving.model.name, "vit_prototype_heads");
  EXPECT_EQ(moving.model.ema_alpha, 0.9);
  EXPECT_EQ(moving.model.head_mixing, "weighted");
  EXPECT_EQ(read(R"({"model": {"name": "pretrained_vit_proto_moe"}})").model.ema_alpha, 0.99);
  // moedil's own name keeps moedil's defaults and reads no predecessor key.
  const RunConfig own = read(R"({"model": {"name": "vit_prototype_heads"}})");
  EXPECT_EQ(own.model.ema_alpha, 0.9);
  EXPECT_EQ(own.model.pretrained, "");
  EXPECT_EQ(problems(R"({"model": {"name": "vit_prototype_heads", "prototype_ema": 0.9}})")
                .at(0)
                .path,
            "model.prototype_ema");
  EXPECT_EQ(problems(R"({"model": {"name": "pretrained_vit_moe_head", "prototype_ema": 0.9,
                                   "ema_alpha": 0.5}})")
                .at(0)
                .path,
            "model.prototype_ema");
}

// The predecessor's pretrain LinearLR scaled its main optimizer's LR at construction, even
// without pretraining: a note gives the LR its main training really had.
TEST(Predecessor, PretrainSchedulerNotesTheLrThePredecessorsMainTrainingHad) {
  const std::string sched = R"("pretrain_scheduler": {"name": "linear", "start_factor": 0.1,
                                                      "end_factor": 1.0}, "loss": {"lr": 1e-4})";
  const RunConfig off = read("{" + sched + R"(, "epochs_per_domain": 10,
                                             "pretrain": {"enabled": false}})");
  EXPECT_EQ(off.optimizer.lr, 1e-4);
  EXPECT_TRUE(has_note(off, "even without pretraining, and never stepped it, so its main "
                            "training ran at lr x 0.1 = 1e-05 throughout"));
  EXPECT_TRUE(has_note(off, "(set 1e-05 to reproduce the predecessor's runs)"));
  // Pretraining 7 of total_iters = epochs_per_domain 10 epochs: 0.1 + 0.9 * 7 / 10 = 0.73.
  const RunConfig part = read("{" + sched + R"(, "epochs_per_domain": 10,
      "pretrain": {"enabled": true, "num_samples": 100, "epochs": 7}})");
  EXPECT_TRUE(has_note(part, "ran at lr x 0.73 = 7.3e-05 throughout"));
  // Pretraining at least total_iters epochs: the factor is back to 1, nothing to say.
  const RunConfig full = read("{" + sched + R"(, "epochs_per_domain": 5,
      "pretrain": {"enabled": true, "num_samples": 100, "epochs": 7}})");
  for (const std::string& n : full.notes) EXPECT_EQ(n.find("pretrain_scheduler:"), std::string::npos) << n;
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
  ASSERT_EQ(none.size(), 1u);  // not repeated by the counts' own checks
  EXPECT_NE(none[0].message.find("returned the layer's input, so such a block"),
            std::string::npos);
  // Several shared experts: vit_moe's unrouted layer (their plain sum); routed experts that
  // never ran (top_k 0) are not built.
  const RunConfig summed = read(R"({"model": {"moe_num_unshared_experts": 4, "moe_top_k": 0,
                                              "moe_num_shared_experts": 4}})");
  EXPECT_EQ(summed.model.name, "vit_moe");
  EXPECT_EQ(summed.model.moe_num_unshared_experts, 0);
  EXPECT_EQ(summed.model.moe_top_k, 0);
  EXPECT_EQ(summed.model.moe_num_shared_experts, 4);
  EXPECT_TRUE(has_note(summed, "4 routed experts with moe_top_k 0 never ran"));
  EXPECT_EQ(read(R"({"model": {"moe_num_unshared_experts": 0, "moe_top_k": 0,
                               "moe_num_shared_experts": 2}})").model.moe_num_shared_experts, 2);
  EXPECT_EQ(read(R"({"model": {"moe_top_k": 1}})").model.name, "vit_moe");
  // Either count 0 is the predecessor's k = min(top_k, routed) = 0; only vit_moe has it.
  EXPECT_EQ(read(R"({"model": {"moe_num_unshared_experts": 0, "moe_top_k": 1,
                               "moe_num_shared_experts": 2}})").model.moe_top_k, 0);
  EXPECT_FALSE(problems(R"({"model": {"name": "hetero_moe", "moe_top_k": 0}})").empty());
}

// Its per-expert LR multipliers: a number or a list per routed / shared expert;
// moe_shared_lr_multiplier when the list is left out.
TEST(Predecessor, PerExpertLrMultipliersAreLists) {
  const RunConfig c = read(R"({"model": {"moe_num_shared_experts": 2,
      "moe_unshared_lr_multipliers": 0.5, "moe_shared_lr_multipliers": [1.0, 0.1],
      "moe_shared_lr_multiplier": 3.0}})");
  EXPECT_EQ(c.model.moe_unshared_lr_multipliers, (std::vector<double>{0.5}));
  EXPECT_EQ(c.model.moe_shared_lr_multipliers, (std::vector<double>{1.0, 0.1}));
  const RunConfig scalar = read(R"({"model": {"moe_shared_lr_multiplier": 0.2,
                                              "moe_unshared_lr_multipliers": null}})");
  EXPECT_EQ(scalar.model.moe_shared_lr_multipliers, (std::vector<double>{0.2}));
  EXPECT_TRUE(scalar.model.moe_unshared_lr_multipliers.empty());
  const auto bad = problems(R"({"model": {"moe_shared_lr_multipliers": [1, -1]}})");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, "model.moe_shared_lr_multipliers");
  EXPECT_FALSE(problems(R"({"model": {"name": "vit", "moe_unshared_lr_multipliers": 1}})").empty());
  EXPECT_EQ(to_json(resolve_run_config(to_json(c), kNames)), to_json(c));
}

// Keys left out take the predecessor's defaults (its driver's); vit_moe's ViT keys keep moedil's
// small ViT (the predecessor's factory ones do not fit the default dataset), with a note.
TEST(Predecessor, LeftOutKeysTakeThePredecessorsDefaults) {
  const RunConfig c = read("{}");
  EXPECT_EQ(c.batch_size, 128);
  EXPECT_EQ(c.partition.min_size, 1);
  EXPECT_FALSE(c.router_balancing);
  EXPECT_EQ(c.router_balance_strength, 0.1);
  EXPECT_EQ(c.model.name, "vit_moe");
  const RunConfig v = read(R"({"model": {"name": "moe_vit", "embed_dim": 96}})");
  EXPECT_EQ(v.model.patch_size, 7);
  EXPECT_EQ(v.model.embed_dim, 96);
  EXPECT_EQ(v.model.depth, 4);
  EXPECT_TRUE(has_note(v, "model.patch_size, depth, num_heads, mlp_ratio: left out, moedil's "
                          "small ViT"));
  EXPECT_FALSE(has_note(read(R"({"model": {"patch_size": 4, "embed_dim": 8, "depth": 2,
                                           "num_heads": 2, "mlp_ratio": 2}})"),
                        "left out, moedil's small ViT"));
  // A resolved config written out reads back the same, without the note.
  const RunConfig again = resolve_run_config(to_json(c), kNames);
  EXPECT_EQ(to_json(again), to_json(c));
  EXPECT_FALSE(has_note(again, "left out, moedil's small ViT"));
}

// Its replay: policy "random" was reservoir sampling, and every step added the loss of a
// separate batch of memory samples; moedil's mixing (ratio) is replay.mode "mixed".
TEST(Predecessor, ReplayRandomIsReservoirWithItsSeparateBatch) {
  const RunConfig c = read(R"({"replay": {"enabled": true, "capacity": 500,
                                          "policy": "random"}})");
  EXPECT_EQ(c.replay.policy, "reservoir");
  EXPECT_EQ(c.replay.mode, "separate");
  EXPECT_EQ(c.replay.capacity, 500);
  EXPECT_TRUE(has_note(c, "replay: the predecessor's separate memory batch"));
  const RunConfig mixed = read(R"({"replay": {"enabled": true, "ratio": 0.25}})");
  EXPECT_EQ(mixed.replay.mode, "mixed");
  EXPECT_EQ(mixed.replay.ratio, 0.25);
  EXPECT_FALSE(has_note(mixed, "replay: the predecessor's"));
  EXPECT_EQ(read(R"({"replay": {"mode": "separate", "ratio": 0.25}})").replay.mode, "separate");
  EXPECT_EQ(read(R"({"replay": {"mode": "mixed"}})").replay.mode, "mixed");
  const auto bad = problems(R"({"replay": {"mode": "both"}})");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, "replay.mode");
  // Written out and read back: the same.
  EXPECT_EQ(to_json(resolve_run_config(to_json(c), kNames)), to_json(c));
  EXPECT_EQ(to_json(resolve_run_config(to_json(mixed), kNames)), to_json(mixed));
}

// Its imagenet and imagenette: class folders without domains (its domainIncremental refused
// them), read as moedil's imagefolder.
TEST(Predecessor, ImagenetIsAnImageFolderWithoutDomains) {
  const RunConfig c = read(R"({"dataset": "ImageNet", "dataset_root": "./datasets",
                               "partition": {"type": "static"}})");
  EXPECT_EQ(c.dataset, "imagefolder");
  EXPECT_EQ(c.dataset_root, "./datasets/imagenet");
  EXPECT_TRUE(has_note(c, "the predecessor's imagenet is the class folders under"));
  EXPECT_EQ(read(R"({"dataset": "imagenette", "partition": {"type": "static"}})").dataset_root,
            "datasets/imagenette2");
  const auto refused = problems(R"({"dataset": "imagenet",
                                    "partition": {"type": "domainIncremental"}})");
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused[0].path, "partition.type");
  EXPECT_NE(refused[0].message.find("had none"), std::string::npos) << refused[0].message;
}

// Its "random" partitioning fell through to the static split.
TEST(Predecessor, RandomPartitionIsTheStaticSplit) {
  const RunConfig c = read(R"({"dataset": "synthetic", "partition": {"type": "random"}})");
  EXPECT_EQ(c.partition.type, "static");
  EXPECT_TRUE(has_note(c, "partition.type: the predecessor's random was its static split"));
  EXPECT_FALSE(has_note(read(R"({"partition": {"type": "static"}})"), "partition.type"));
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
