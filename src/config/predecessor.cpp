#include "moedil/config/predecessor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "moedil/common/ascii.h"

namespace moedil::config {
namespace {

using json = nlohmann::json;

/// The predecessor's resnetNN-cifar names (resnetNN with the CIFAR stem).
bool has_cifar_suffix(const std::string& lowered) {
  const std::string suffix = "-cifar";
  return lowered.size() > suffix.size() &&
         lowered.compare(lowered.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// `key` of `object`, when null, is erased: the default then applies.
void erase_null(json& object, const char* key) {
  if (object.is_object() && object.contains(key) && object[key].is_null()) object.erase(key);
}

json* object_at(json& j, const char* key) {
  return j.contains(key) && j[key].is_object() ? &j[key] : nullptr;
}

/// The predecessor's vit_moe with no routed expert chosen (moe_top_k 0 or
/// moe_num_unshared_experts 0): each MoE layer is the plain sum of its shared experts. One shared
/// expert is a ViT MLP block: moedil's vit. Several: vit_moe with 0 routed experts and top_k 0
/// (routed experts it built but never ran are not built). None (the input passed through) is
/// refused.
void apply_shared_only(json& model, std::vector<ConfigIssue>& issues,
                       std::vector<std::string>& notes) {
  const auto count = [&](const char* key, int64_t fallback) {
    const json v = model.value(key, json(fallback));
    return v.is_number_integer() ? v.get<int64_t>() : int64_t{-1};
  };
  const ModelConfig defaults;
  const int64_t routed = count("moe_num_unshared_experts", defaults.moe_num_unshared_experts);
  const int64_t top_k = count("moe_top_k", defaults.moe_top_k);
  const int64_t shared = count("moe_num_shared_experts", defaults.moe_num_shared_experts);
  if (routed < 0 || top_k < 0 || shared < 0 || std::min(routed, top_k) > 0) return;
  if (shared == 0) {
    issues.push_back({"model.moe_top_k", 0,
                      "no expert runs here (0 routed chosen, no shared expert): the "
                      "predecessor's last version returned the layer's input, so such a block "
                      "computed h + norm2(h) instead of h + mlp(norm2(h)), which moedil does "
                      "not build; its older versions built no MoE layer for moe_layer_indices "
                      "null (a plain ViT: model vit, or vit_small with pretrained_vit)"});
    // Refused above: the counts' own checks would only repeat it.
    model.erase("moe_top_k");
    model.erase("moe_num_unshared_experts");
    return;
  }
  // One shared expert with its own LR factor: an unrouted vit_moe layer (moedil's vit has no
  // expert to scale).
  const bool factors = model.contains("moe_shared_lr_multipliers") ||
                       model.contains("moe_shared_lr_multiplier");
  if (shared > 1 || factors) {
    if (routed > 0) {
      notes.push_back("model.moe_num_unshared_experts: " + std::to_string(routed) +
                      " routed experts with moe_top_k 0 never ran in the predecessor (their "
                      "weights were built and never trained): not built here");
    }
    model["moe_num_unshared_experts"] = 0;
    model["moe_top_k"] = 0;
    return;
  }
  model["name"] = "vit";
  for (const char* key : {"moe_layer_indices", "moe_num_unshared_experts",
                          "moe_num_shared_experts", "moe_top_k", "moe_routing_granularity",
                          "moe_route_on", "moe_gate", "moe_noise_std", "moe_capacity_factor",
                          "moe_routing", "moe_expert_dropout", "moe_balance_losses"}) {
    model.erase(key);
  }
  notes.push_back("model: vit_moe with 0 routed experts chosen and 1 shared expert is a ViT with "
                  "an MLP in every block (the predecessor's layers summed their shared experts): "
                  "moedil's vit");
}

/// The predecessor's per-expert LR multipliers (its main optimizer's, vit_moe): a number or a
/// list indexed by expert (past its end: the last value); moe_shared_lr_multiplier, a number,
/// when moe_shared_lr_multipliers is left out. Read here as lists; null = left out.
void apply_expert_lr_lists(json& model) {
  for (const char* key : {"moe_unshared_lr_multipliers", "moe_shared_lr_multipliers",
                          "moe_shared_lr_multiplier"}) {
    erase_null(model, key);
    if (model.contains(key) && model[key].is_number()) model[key] = json::array({model[key]});
  }
  if (model.contains("moe_shared_lr_multiplier")) {
    if (!model.contains("moe_shared_lr_multipliers")) {
      model["moe_shared_lr_multipliers"] = model["moe_shared_lr_multiplier"];
    }
    model.erase("moe_shared_lr_multiplier");
  }
}

/// The predecessor's vit_moe_imagelevel keys that change nothing there, so here: its auxiliary
/// terms (built from centroid buffers, a detached routing vector and hard counts, constants
/// without gradient), their schedules, and the routing temperature and sampling switch (argmax of
/// softmax(s / T) is argmax of s; its factory never passed routing_sample on). Checked for type,
/// dropped, with one note.
void apply_imagelevel_keys(json& model, std::vector<ConfigIssue>& issues,
                           std::vector<std::string>& notes) {
  static const char* const kNumbers[] = {
      "repulsion_k",        "repulsion_margin",      "moe_repulsion_k",
      "moe_repulsion_margin", "lambda_fast",         "lambda_slow",
      "lambda_align",       "lambda_cons",           "lambda_lb_init",
      "moe_lambda_fast",    "moe_lambda_slow",       "moe_lambda_align",
      "moe_lambda_cons",    "moe_lambda_lb_init",    "anneal_epochs",
      "moe_anneal_epochs",  "moe_anneal_steps",      "detach_align_steps",
      "routing_temp",       "routing_anneal_epochs", "argmax_routing_start_epoch"};
  std::string dropped;
  const auto drop = [&](const char* key, bool number) {
    if (!model.contains(key)) return;
    const json& v = model[key];
    if (!v.is_null() && !(number ? v.is_number() : v.is_boolean())) {
      issues.push_back({std::string("model.") + key, 0,
                        std::string("expected ") + (number ? "a number" : "true or false") +
                            " (or null), got " + v.dump()});
    }
    model.erase(key);
    dropped += (dropped.empty() ? "" : ", ") + std::string(key);
  };
  for (const char* key : kNumbers) drop(key, true);
  drop("routing_sample", false);
  if (!dropped.empty()) {
    notes.push_back("model." + dropped +
                    ": change nothing in the predecessor's vit_moe_imagelevel, so here too (its "
                    "auxiliary terms were computed from centroid buffers, a detached routing "
                    "vector and hard counts: constants without gradient; argmax of softmax(s/T) "
                    "is argmax of s; routing_sample was never passed on). moedil's image-level "
                    "model with gradient-carrying centroid losses is vit_moe_centroid");
  }
  for (const char* key : {"route_with_cls_token", "route_with_class_token",
                          "route_with_CLS_token", "moe_route_with_cls_token"}) {
    if (!model.contains(key)) continue;
    model.erase(key);
    notes.push_back(std::string("model.") + key +
                    ": ignored by the predecessor's vit_moe_imagelevel factory (it always routed "
                    "on the mean of the patch tokens), so here too");
  }
  // Its class took a list, "every_other", or anything else (null included) as every block.
  if (model.contains("moe_layer_indices")) {
    const json v = model["moe_layer_indices"];
    if (v.is_null() || (v.is_string() && v != "every_other" && v != "all")) {
      model["moe_layer_indices"] = "all";
      notes.push_back("model.moe_layer_indices: " + v.dump() +
                      " meant every block in the predecessor's vit_moe_imagelevel: \"all\"");
    }
  }
}

/// The predecessor's switch model (vit_switch_moe and its aliases) was always timm's pretrained
/// ViT-S/16 (LayerNorm eps 1e-6) with its patch embedding, CLS token and lower 8 blocks frozen,
/// whatever pretrained_vit said.
void apply_switch_start(json& model, std::vector<std::string>& notes) {
  if (model.value("pretrained_vit", json()) != "small") {
    notes.push_back("model.pretrained_vit: " +
                    (model.contains("pretrained_vit") ? model["pretrained_vit"].dump()
                                                      : std::string("left out")) +
                    ": the predecessor's switch model loaded timm's pretrained ViT-S/16 whatever "
                    "it said: \"small\" (weights_dir/vit_small.pt)");
    model["pretrained_vit"] = "small";
  }
  if (!model.contains("layer_norm_eps")) {
    model["layer_norm_eps"] = 1e-6;  // its blocks and norm were timm's
  }
  if (!model.contains("expert_depth") && !model.contains("upper_blocks")) {
    model["expert_depth"] = 4;  // its expert towers were always the last 4 blocks
  }
  if (!model.contains("freeze_shared")) {
    model["freeze_shared"] = true;
    notes.push_back("model.freeze_shared: true, as the predecessor's switch model froze its patch "
                    "embedding, CLS token and shared blocks (it left the position embedding "
                    "trainable; here it is frozen with them)");
  }
}

/// The predecessor's pretrained_vit_moe_head (PretrainedViTPrototypeMoE), read as moedil's
/// vit_prototype_heads: timm's pretrained ViT-S/16 whatever its config said, its prototypes'
/// keep rate, the head mixing, prototypes frozen by router_lr_multiplier <= 0 (its setup froze
/// the routing then), and the keys it read without effect dropped with a note.
void apply_prototype_heads_start(json& model, const json& top, std::vector<ConfigIssue>& issues,
                                 std::vector<std::string>& notes) {
  const auto drop = [&](const char* key, const std::string& why) {
    if (!model.contains(key)) return;
    model.erase(key);
    notes.push_back(std::string("model.") + key + ": " + why);
  };
  drop("pretrained", "ignored by the predecessor's pretrained_vit_moe_head, which always loaded "
                     "timm's pretrained ViT-S/16: model.pretrained_vit \"small\" here");
  if (model.value("pretrained_vit", json()) != "small") {
    if (model.contains("pretrained_vit")) {
      notes.push_back("model.pretrained_vit: " + model["pretrained_vit"].dump() +
                      ": the predecessor's pretrained_vit_moe_head always loaded ViT-S/16: "
                      "\"small\" (weights_dir/vit_small.pt)");
    }
    model["pretrained_vit"] = "small";
  }
  drop("freeze_encoder", "stored but never applied by the predecessor (its whole ViT trained), "
                         "so here too; moedil's model.freeze_backbone freezes it");
  for (const char* key : {"use_attraction", "use_repulsion", "use_consistency", "loss_weights",
                          "repulsion_margin"}) {
    drop(key, "the predecessor's attraction, repulsion and consistency terms carried no "
              "gradient (features and prototypes detached; consistency needed a second view "
              "it never got): they changed only the printed loss, so here they are left out");
  }
  if (model.contains("prototype_ema")) {
    if (model.contains("ema_alpha")) {
      issues.push_back({"model.prototype_ema", 0,
                        "is the predecessor's name of model.ema_alpha (the prototypes' keep "
                        "rate), which is set too: set one of them"});
    } else {
      model["ema_alpha"] = model["prototype_ema"];
    }
    model.erase("prototype_ema");
  } else if (!model.contains("ema_alpha")) {
    model["ema_alpha"] = 0.99;  // its factory's default
  }
  const json multiplier = top.value("router_lr_multiplier", json(1.0));
  if (multiplier.is_number() && multiplier.get<double>() <= 0.0) {
    model["ema_alpha"] = 1.0;
    notes.push_back("model.ema_alpha: 1 (the prototypes never move): router_lr_multiplier " +
                    multiplier.dump() + " froze the predecessor's prototype routing for the "
                    "whole run, so its heads were chosen by the random unit prototypes of the "
                    "model seed while the ViT trained");
  }
  if (model.contains("use_global_classification")) {
    const json global = model["use_global_classification"];
    model.erase("use_global_classification");
    if (!global.is_boolean()) {
      issues.push_back({"model.use_global_classification", 0,
                        "expected true or false, got " + global.dump()});
    } else if (!model.contains("head_mixing")) {
      model["head_mixing"] = global.get<bool>() ? "weighted" : "selected";
    }
  }
}

void apply_model_keys(json& model, std::vector<ConfigIssue>& issues,
                      std::vector<std::string>& notes) {
  for (const char* key : {"num_classes", "img_size"}) {
    erase_null(model, key);
  }
  const json given_name = model.value("name", json(ModelConfig{}.name));
  const std::string name = given_name.is_string() ? given_name.get<std::string>() : "";
  // model.pretrained, pretrained_vit and pretrained_vit_tiny_path: config/pretrained.h.
  // Keys the predecessor's model factories took and ignored (**kwargs, or overridden): dropped,
  // with a note. Its switch model always had 4 expert blocks, whatever upper_blocks said.
  const auto ignored = [&](const char* key, const std::string& why) {
    if (!model.contains(key)) return;
    model.erase(key);
    notes.push_back(std::string("model.") + key + ": " + why);
  };
  if (name == "vit_moe_imagelevel") apply_imagelevel_keys(model, issues, notes);
  if ((name == "vit" || name == "vit_moe") && model.value("moe_route_with_cls_token", json()) ==
                                                 false) {
    notes.push_back("model.moe_route_with_cls_token: false is a ViT without a CLS token (the "
                    "head reads the token mean), as in the predecessor; in moedil configs before "
                    "run.json schema 4 it meant sample routing on the token mean with a CLS "
                    "token: that is now moe_route_on \"mean\"");
  }
  if (name == "hetero_moe" && model.contains("moe_route_with_cls_token") &&
      model["moe_route_with_cls_token"].is_boolean() && !model.contains("moe_route_on")) {
    model["moe_route_on"] = model["moe_route_with_cls_token"].get<bool>() ? "cls" : "mean";
    model.erase("moe_route_with_cls_token");
    notes.push_back("model.moe_route_with_cls_token: hetero_moe's routing input is moe_route_on "
                    "now (" + model["moe_route_on"].get<std::string>() + ")");
  }
  if (name == "vit_moe") {
    for (const char* key : {"route_with_cls_token", "route_with_class_token",
                            "route_with_CLS_token"}) {
      ignored(key, "ignored by the predecessor's " + name +
                       " (its CLS token is model.moe_route_with_cls_token), so here too");
    }
    // Its factory took any other key and ignored it: the image-level model's keys and the
    // names of older versions are dropped with a note; other unknown keys stay errors.
    for (const char* key :
         {"num_experts", "moe_num_experts", "moe_shared_expert", "alpha_fast", "alpha_slow",
          "repulsion_k", "repulsion_margin", "moe_repulsion_k", "moe_repulsion_margin",
          "moe_lambda_fast", "moe_lambda_slow", "moe_lambda_align", "moe_lambda_cons",
          "moe_lambda_lb_init", "anneal_epochs", "moe_anneal_epochs", "moe_anneal_steps",
          "detach_align_steps", "routing_temp", "routing_anneal_epochs", "routing_sample",
          "argmax_routing_start_epoch"}) {
      ignored(key, "ignored by the predecessor's vit_moe factory (it took any key), so here "
                   "too (its experts are moe_num_unshared_experts and moe_num_shared_experts)");
    }
  }
  if (name == "switch_moe_vit") {
    for (const char* key : {"route_with_cls_token", "route_with_class_token",
                            "prototype_init_domains"}) {
      ignored(key, "ignored by the predecessor's switch factory, so here too");
    }
    if (model.contains("prototype_init_file")) {
      issues.push_back({"model.prototype_init_file", 0,
                        "the predecessor's precomputed prototype file is not read here: give "
                        "model.prototype_init_dataset (the folder it was computed from), which "
                        "computes the same prototypes from the pretrained backbone"});
      model.erase("prototype_init_file");
    }
    if (model.contains("upper_blocks")) {
      if (!model.contains("expert_depth")) model["expert_depth"] = 4;
      ignored("upper_blocks", "ignored by the predecessor's switch factory, whose experts were "
                              "always the last 4 blocks: expert_depth 4");
    }
  }
  if (name == "convnext_tiny") {
    for (const char* key : {"patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio",
                            "dropout"}) {
      ignored(key, "a ViT key, which the predecessor's torchvision ConvNeXt ignored, so here too");
    }
  }
  if (name == "vit_moe") {
    apply_shared_only(model, issues, notes);
    apply_expert_lr_lists(model);
  }
  if (model.contains("num_experts")) {
    if (model.contains("moe_num_unshared_experts")) {
      issues.push_back({"model.num_experts", 0,
                        "is the predecessor's name of model.moe_num_unshared_experts, which is "
                        "set too: set one of them"});
    } else {
      model["moe_num_unshared_experts"] = model["num_experts"];
    }
    model.erase("num_experts");
  }
}

/// The predecessor's random_crop (RandomCrop(S, padding 4)) and random_flip (p 0.5) are
/// moedil's random_crop_padding 4 and horizontal_flip; false adds nothing.
void apply_augmentation_keys(json& a, std::vector<ConfigIssue>& issues) {
  const auto move = [&](const char* from, const char* to, const json& value) {
    if (!a.contains(from)) return;
    const json given = a[from];
    a.erase(from);
    if (!given.is_boolean()) {
      issues.push_back({std::string("augmentation.") + from, 0,
                        "expected true or false, got " + given.dump()});
      return;
    }
    if (!given.get<bool>()) return;
    if (a.contains(to) && a[to] != value) {
      issues.push_back({std::string("augmentation.") + from, 0,
                        std::string("is the predecessor's augmentation.") + to + " " +
                            value.dump() + ", and " + to + " is " + a[to].dump() +
                            ": set one of them"});
      return;
    }
    a[to] = value;
  };
  erase_null(a, "resize");
  const bool crops = a.value("random_crop", json(false)) == true ||
                     a.value("random_resize_crop", json(false)) == true;
  if (crops && !a.contains("resize")) a["resize"] = 32;  // the predecessor's default S
  move("random_crop", "random_crop_padding", 4);
  move("random_flip", "horizontal_flip", true);
}

/// model.moe_expert_lr_multiplier and the absolute model.moe_expert_lr, which only the
/// predecessor's baseline builder read (its main optimizer ignored them):
/// baseline.expert_lr_multiplier.
void apply_baseline_expert_lr(json& j, std::vector<ConfigIssue>& issues,
                              std::vector<std::string>& notes) {
  json* model = object_at(j, "model");
  if (!model) return;
  // The LR as the predecessor read it: loss.lr (moved to optimizer.lr below), its default.
  json lr = json(RunConfig{}.optimizer.lr);
  if (j.contains("optimizer") && j["optimizer"].is_object() && j["optimizer"].contains("lr")) {
    lr = j["optimizer"]["lr"];
  }
  if (j.contains("loss") && j["loss"].is_object() && j["loss"].contains("lr")) {
    lr = j["loss"]["lr"];
  }
  json multiplier = model->value("moe_expert_lr_multiplier", json(nullptr));
  if (model->contains("moe_expert_lr") && !(*model)["moe_expert_lr"].is_null()) {
    const json absolute = (*model)["moe_expert_lr"];
    if (absolute.is_number() && lr.is_number() && lr.get<double>() > 0) {
      multiplier = absolute.get<double>() / lr.get<double>();
    } else {
      issues.push_back({"model.moe_expert_lr", 0,
                        "the baselines' absolute expert LR needs a number and the learning "
                        "rate (loss.lr or optimizer.lr) given"});
    }
  }
  model->erase("moe_expert_lr");
  if (model->contains("moe_expert_lr_multiplier")) {
    model->erase("moe_expert_lr_multiplier");
    notes.push_back("model.moe_expert_lr_multiplier: the predecessor applied it to its "
                    "baselines' experts only (baseline.expert_lr_multiplier); the main run's "
                    "is the top-level moe_expert_lr_multiplier");
  }
  if (!multiplier.is_null()) {
    if (!j.contains("baseline")) j["baseline"] = json::object();
    if (j["baseline"].is_object()) j["baseline"]["expert_lr_multiplier"] = multiplier;
  }
}

/// A config moedil resolved and wrote (run.json, checkpoints): it has scheduler.per_domain,
/// which no predecessor config has. Notes for porting are not repeated for those.
bool written_by_moedil(const json& j) {
  return j.contains("scheduler") && j["scheduler"].is_object() &&
         j["scheduler"].contains("per_domain");
}

/// The predecessor built its pretrain_scheduler (a torch LinearLR) on the main optimizer even
/// when nothing pretrained, and constructing a LinearLR multiplies the LR by start_factor at
/// once; without a main scheduler nothing restored it. Its main training therefore ran at lr
/// times the factor the LinearLR had reached: start_factor without pretraining, else after the
/// pretraining epochs. moedil trains at optimizer.lr: a note gives the LR to set to reproduce
/// the predecessor's runs.
void note_pretrain_scheduler_lr(const json& j, bool moedil_written,
                                std::vector<std::string>& notes) {
  if (!j.contains("pretrain_scheduler") || !j["pretrain_scheduler"].is_object()) return;
  if (moedil_written) return;
  const json& s = j["pretrain_scheduler"];
  if (s.value("name", json()) != "linear") return;
  const json start_j = s.value("start_factor", json(0.1));
  const json end_j = s.value("end_factor", json(1.0));
  const json epd = j.value("epochs_per_domain", json(RunConfig{}.epochs_per_domain));
  // total_iters null, 0 (moedil's) or left out: epochs_per_domain.
  const json total_j =
      s.value("total_iters", json()).is_number() && s["total_iters"] != 0 ? s["total_iters"] : epd;
  json lr_j = json(RunConfig{}.optimizer.lr);
  if (j.contains("optimizer") && j["optimizer"].is_object() && j["optimizer"].contains("lr")) {
    lr_j = j["optimizer"]["lr"];
  }
  if (!start_j.is_number() || !end_j.is_number() || !total_j.is_number() || !lr_j.is_number()) {
    return;  // validation names the bad value
  }
  const double start = start_j.get<double>();
  const double end = end_j.get<double>();
  const double total = total_j.get<double>();
  const json pretrain = j.value("pretrain", json::object());
  const bool pretrains = pretrain.is_object() && pretrain.value("enabled", json(false)) == true &&
                         pretrain.value("num_samples", json(1)) != 0;
  double factor = start;
  if (pretrains) {
    const json epochs_j = pretrain.value("epochs", epd);
    if (!epochs_j.is_number() || total <= 0) return;
    factor = start + (end - start) * std::min(epochs_j.get<double>(), total) / total;
  }
  if (std::abs(factor - 1.0) < 1e-12) return;
  const double lr = lr_j.get<double>();
  char text[512];
  std::snprintf(text, sizeof text,
                "pretrain_scheduler: the predecessor built this LinearLR on the main optimizer "
                "%s, so its main training ran at lr x %.6g = %.6g%s; moedil trains at "
                "optimizer.lr %.6g (set %.6g to reproduce the predecessor's runs)",
                pretrains ? "and stepped it only in pretraining"
                          : "even without pretraining, and never stepped it",
                factor, lr * factor,
                j.contains("scheduler") && j["scheduler"].is_object()
                    ? " before its main scheduler scaled that"
                    : " throughout",
                lr, lr * factor);
  notes.push_back(text);
}

/// The predecessor's "imagenet" and "imagenette": one torchvision ImageFolder of class folders
/// (<dataset_root>/imagenet[/train], <dataset_root>/imagenette2[/train]), without domains, so its
/// domainIncremental partitioning refused them. Read as moedil's imagefolder at that folder;
/// domainIncremental is refused here too, with the reason.
void apply_image_folder_datasets(json& j, std::vector<ConfigIssue>& issues,
                                 std::vector<std::string>& notes) {
  const std::string lowered = ascii_lower(j["dataset"].get<std::string>());
  if (lowered != "imagenet" && lowered != "imagenette") return;
  const json partition = j.value("partition", json::object());
  if (partition.is_object() && partition.value("type", json()) == "domainIncremental") {
    issues.push_back({"partition.type", 0,
                      "domainIncremental needs domains, and the predecessor's " + lowered +
                          " had none (one ImageFolder of class folders; its domainIncremental "
                          "partitioning refused it): give each domain a folder and read it as "
                          "dataset imagefolder, or partition by class mix (dirichlet, static, "
                          "random_assignment)"});
  }
  const std::string folder = lowered == "imagenet" ? "imagenet" : "imagenette2";
  std::string root = j.value("dataset_root", json("datasets")).is_string()
                         ? j.value("dataset_root", json("datasets")).get<std::string>()
                         : std::string("datasets");
  if (root.empty()) root = "datasets";
  j["dataset"] = "imagefolder";
  j["dataset_root"] = root + (root.back() == '/' ? "" : "/") + folder;
  notes.push_back("dataset: the predecessor's " + lowered + " is the class folders under " +
                  j["dataset_root"].get<std::string>() +
                  ": dataset imagefolder there (with train/ and val/ folders, moedil tests on "
                  "val/; the predecessor split train/ by train_frac and never read val/)");
}

}  // namespace

std::string model_alias(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"moe_vit", "vit_moe"},
      {"vit_switch_moe", "switch_moe_vit"},
      {"switch_moe", "switch_moe_vit"},
      {"vit_moe_img", "vit_moe_imagelevel"},
      {"vit_switch", "switch_moe_vit"},
      {"pretrained_vit_moe_head", "vit_prototype_heads"},
      {"pretrained_vit_proto_moe", "vit_prototype_heads"},
      {"vit_moe_proto", "vit_prototype_heads"},
  };
  const std::string key = ascii_lower(name);
  if (const auto it = aliases.find(key); it != aliases.end()) return it->second;
  if (has_cifar_suffix(key)) return key.substr(0, key.size() - std::string("-cifar").size());
  return key != name ? key : "";
}

/// The predecessor's main schedulers were torch's, built once on the optimizer and stepped
/// after every epoch of the whole run, never restarted per domain: cosine = CosineAnnealingLR
/// (T_max null, 0 or left out: epochs_per_domain; periodic past it), linear = LinearLR
/// (start_factor 0.1, end_factor 1.0, total_iters epochs_per_domain when left out), step =
/// StepLR (step_size 10, gamma 0.1). A scheduler without per_domain (which every config moedil
/// writes has) keeps that meaning; with per_domain it is moedil's schedule of that name.
/// cosine_annealing and linear_lr (torch's, by moedil's names) without per_domain also run once
/// over the whole run.
void apply_predecessor_scheduler(json& scheduler, std::vector<ConfigIssue>& issues,
                                 std::vector<std::string>& notes) {
  for (const char* key : {"T_max", "total_iters"}) {
    if (scheduler.contains(key) && scheduler[key].is_null()) scheduler[key] = 0;
  }
  if (scheduler.contains("per_domain") || !scheduler.value("name", json()).is_string()) return;
  const std::string name = ascii_lower(scheduler["name"].get<std::string>());
  if (name == "cosine_annealing" || name == "linear_lr") {
    scheduler["per_domain"] = false;  // torch's schedulers: once over the whole run
  } else if (name == "cosine") {
    scheduler["name"] = "cosine_annealing";
    scheduler["per_domain"] = false;
    notes.push_back("scheduler: cosine without per_domain is the predecessor's torch "
                    "CosineAnnealingLR over the whole run (T_max default epochs_per_domain, "
                    "periodic past it): cosine_annealing; moedil's half cosine restarted every "
                    "domain is cosine with per_domain true");
  } else if (name == "linear") {
    if (scheduler.contains("min_lr")) {
      issues.push_back({"scheduler.min_lr", 0,
                        "linear without per_domain is the predecessor's torch LinearLR "
                        "(start_factor to end_factor), which has no min_lr: for moedil's decay "
                        "to min_lr add per_domain (true: restarted every domain)"});
      return;
    }
    scheduler["name"] = "linear_lr";
    scheduler["per_domain"] = false;
    if (!scheduler.contains("start_factor")) scheduler["start_factor"] = 0.1;
    if (!scheduler.contains("end_factor")) scheduler["end_factor"] = 1.0;
    notes.push_back("scheduler: linear without per_domain is the predecessor's torch LinearLR "
                    "over the whole run (lr x start_factor rising to lr x end_factor over "
                    "total_iters epochs, default epochs_per_domain): linear_lr; moedil's linear "
                    "decay to min_lr is linear with per_domain");
  } else if (name == "step") {
    scheduler["per_domain"] = false;
    if (!scheduler.contains("step_size")) scheduler["step_size"] = 10;
    notes.push_back("scheduler: step without per_domain is the predecessor's torch StepLR over "
                    "the whole run (lr x gamma every step_size epochs, step_size default 10); "
                    "with per_domain true it restarts every domain (step_size default 1)");
  }
}

std::string dataset_alias(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"officehomedataset", "officehome"},
      {"officehome_10072016", "officehome"},
      {"office-home", "officehome"},
  };
  const auto it = aliases.find(ascii_lower(name));
  return it != aliases.end() ? it->second : "";
}

std::vector<ConfigIssue> apply_predecessor_names(json& j, std::vector<std::string>& notes) {
  std::vector<ConfigIssue> issues;
  if (!j.is_object()) return issues;
  // Judged before the scheduler below gains a per_domain.
  const bool moedil_written = written_by_moedil(j);
  for (const char* key : {"mini_dataset", "router_lr_multiplier"}) erase_null(j, key);
  if (json* scheduler = object_at(j, "scheduler")) {
    apply_predecessor_scheduler(*scheduler, issues, notes);
  }
  if (j.contains("router_balance_strength") && j["router_balance_strength"].is_null()) {
    if (j.value("router_balancing", json(false)) == true) {
      issues.push_back({"router_balance_strength", 0,
                        "null with router_balancing true: the predecessor failed on it; give "
                        "the balance loss weight"});
    }
    j["router_balance_strength"] = 0.0;
  }
  for (const char* key : {"warmup_epochs", "warmup_starting_LR"}) {
    if (!j.contains(key)) continue;
    j.erase(key);
    notes.push_back(std::string(key) +
                    ": read by no predecessor code, so ignored, as there (moedil's warm-up is "
                    "scheduler.warmup_epochs)");
  }
  if (json* augmentation = object_at(j, "augmentation")) {
    apply_augmentation_keys(*augmentation, issues);
  }
  if (json* partition = object_at(j, "partition")) {
    // Its "random" partitioning fell through to the static split.
    if (partition->value("type", json()) == "random") {
      (*partition)["type"] = "static";
      notes.push_back("partition.type: the predecessor's random was its static split (a seeded "
                      "shuffle cut into num_partitions equal chunks): static; each sample in a "
                      "uniformly random partition is random_assignment");
    }
  }
  if (json* replay = object_at(j, "replay")) {
    // Its "random" policy was reservoir sampling (a new sample replaces a uniformly random slot
    // with probability capacity / seen).
    if (replay->value("policy", json()) == "random") (*replay)["policy"] = "reservoir";
    if (replay->value("enabled", json(false)) == true && !replay->contains("mode") &&
        !replay->contains("ratio") && !moedil_written) {
      notes.push_back("replay: the predecessor's separate memory batch (replay.mode "
                      "\"separate\": as many memory samples as new ones, their own mean loss "
                      "added); moedil's mixing of ratio x batch_size memory samples into the batch "
                      "is replay.mode \"mixed\"");
    }
  }
  const auto set = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  if (set("router_freeze_after_epochs") || set("router_freeze_after_batches")) {
    notes.push_back("router_freeze_after_epochs: counts global epochs (pretraining first, never "
                    "reset per domain) and freezes for good, as the predecessor; moedil's "
                    "per-domain freezing is router_freeze_per_domain_after_epochs");
  }
  if (set("router_lr_multiplier_after_epochs") || set("router_lr_multiplier_after_batches")) {
    notes.push_back("router_lr_multiplier_after_epochs: changes nothing here (the routers' LR is "
                    "always the scheduled LR times router_lr_multiplier, which the "
                    "predecessor's event re-applied)");
  }
  const json* model = j.contains("model") && j["model"].is_object() ? &j["model"] : nullptr;
  const auto model_name = [&] {
    if (!model || !model->value("name", json()).is_string()) return std::string();
    const std::string given = (*model)["name"].get<std::string>();
    const std::string alias = model_alias(given);
    return alias.empty() ? given : alias;
  };
  if (j.value("router_balancing", json(false)) == true && model_name() == "vit_moe_imagelevel" &&
      !moedil_written) {
    notes.push_back("router_balancing: the predecessor's vit_moe_imagelevel balance term was "
                    "computed from hard counts, a constant without gradient: it changes "
                    "nothing there, and vit_moe_imagelevel has no balance loss here");
  }
  const json anneal = j.value("router_balance_anneal_epochs", json(0));
  if (j.value("router_balancing", json(false)) == true && anneal.is_number() &&
      anneal.get<double>() > 0) {
    notes.push_back("router_balance_anneal_epochs: the balance weight anneals along the cosine as "
                    "configured; the predecessor never ran its anneal (every run used "
                    "router_balance_max throughout): set router_balance_anneal_epochs 0 for that");
  }
  if (json* loss = object_at(j, "loss"); loss && loss->contains("weighted")) {
    notes.push_back("loss.weighted: read by none of the predecessor's losses, nor here: "
                    "weighted_cross_entropy weighs the classes, cross_entropy does not");
  }
  const json epochs_per_domain = j.value("epochs_per_domain", json(RunConfig{}.epochs_per_domain));
  apply_baseline_expert_lr(j, issues, notes);
  if (json* baseline = object_at(j, "baseline")) {
    erase_null(*baseline, "accuracies");
    if (baseline->contains("train")) {
      if ((*baseline)["train"] == true) {
        notes.push_back("baseline.train: baselines train epochs_per_domain epochs from the "
                        "post-pretraining weights, each following the scheduler afresh, as the "
                        "predecessor's");
      }
      const json train = (*baseline)["train"];
      if (baseline->contains("enabled") && (*baseline)["enabled"] != train) {
        issues.push_back({"baseline.train", 0,
                          "is " + train.dump() + " but baseline.enabled is " +
                              (*baseline)["enabled"].dump() +
                              ": the predecessor read only train; set them alike"});
      }
      (*baseline)["enabled"] = train;
      baseline->erase("train");
      if (!baseline->contains("epochs")) (*baseline)["epochs"] = epochs_per_domain;
    }
  }
  if (json* pretrain = object_at(j, "pretrain")) {
    if (!pretrain->contains("epochs")) (*pretrain)["epochs"] = epochs_per_domain;
    if (pretrain->value("enabled", json(false)) == true && !pretrain->contains("draw") &&
        pretrain->value("with_replacement", json(false)) == true) {
      notes.push_back("pretrain: with_replacement keeps the drawn samples in the domains and "
                      "train_frac as given; the predecessor shrank train_frac by num_samples / N "
                      "all the same");
    }
  }
  if (json* scheduler = object_at(j, "pretrain_scheduler")) {
    if (scheduler->contains("name") && (*scheduler)["name"].is_null()) {
      (*scheduler)["name"] = "none";
    } else if (scheduler->contains("name") && (*scheduler)["name"].is_string()) {
      (*scheduler)["name"] = ascii_lower((*scheduler)["name"].get<std::string>());
    }
  }
  if (j.contains("model") && j["model"].is_object()) {
    json& model = j["model"];
    if (model.contains("name") && model["name"].is_string()) {
      const std::string given = model["name"].get<std::string>();
      if (const std::string name = model_alias(given); !name.empty()) {
        if (has_cifar_suffix(ascii_lower(given)) && !model.contains("resnet_stem")) {
          model["resnet_stem"] = "cifar";
        }
        if (name == "switch_moe_vit" && !moedil_written) apply_switch_start(model, notes);
        if (name == "vit_prototype_heads" && !moedil_written) {
          apply_prototype_heads_start(model, j, issues, notes);
        }
        model["name"] = name;
      }
    }
    const json family = model.value("name", json(ModelConfig{}.name));
    apply_model_keys(model, issues, notes);
    if (family == "vit_moe" && !moedil_written) {
      std::string left_out;
      for (const char* key : {"patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio"}) {
        if (!model.contains(key)) left_out += (left_out.empty() ? "" : ", ") + std::string(key);
      }
      if (!left_out.empty()) {
        notes.push_back("model." + left_out +
                        ": left out, moedil's small ViT (patch 7, width 64, depth 4, 4 heads, MLP "
                        "ratio 2); the predecessor's vit_moe factory had patch 16, width 192, "
                        "depth 8, 3 heads, MLP ratio 4");
      }
    }
    if (model.contains("moe_layer_indices") && model["moe_layer_indices"].is_null()) {
      notes.push_back("model.moe_layer_indices: null is block 1, as in the predecessor's last "
                      "version (older versions built no MoE layer)");
    }
  }
  if (j.contains("dataset") && j["dataset"].is_string()) {
    if (const std::string name = dataset_alias(j["dataset"].get<std::string>()); !name.empty()) {
      j["dataset"] = name;
    }
    // imagenet and imagenette become imagefolder below; mini_dataset is judged by the name given.
    const std::string given = ascii_lower(j["dataset"].get<std::string>());
    const bool image_net = given == "imagenet" || given == "imagenette";
    const std::string dataset = image_net ? given : j["dataset"].get<std::string>();
    apply_image_folder_datasets(j, issues, notes);
    if ((dataset == "core50" || dataset == "officehome" || dataset == "imagenet" ||
         dataset == "imagenette") &&
        j.contains("mini_dataset")) {
      j.erase("mini_dataset");
      notes.push_back("mini_dataset: the predecessor applied it to cifar10 only, so all of " +
                      dataset + " is used, as there");
    }
    // Its CIFAR-10 was the training split alone (the test batch was never read), partitioned
    // and split by train_frac; mini_dataset drew from it.
    if (ascii_lower(dataset) == "cifar10" && !moedil_written && !j.contains("dataset_split") &&
        !j.contains("test_split")) {
      j["dataset"] = "cifar10";
      j["dataset_split"] = "train";
      notes.push_back("dataset_split: train: the predecessor's cifar10 was the 50000 training "
                      "images alone (mini_dataset drawn from them), its test batch never read; "
                      "dataset_split all reads both");
    }
  }
  if (j.contains("seed")) {
    // The predecessor's fallback: seeds.global when that is left out, else ignored.
    const json seed = j["seed"];
    j.erase("seed");
    if (!j.contains("seeds")) j["seeds"] = json::object();
    if (j["seeds"].is_object() && !j["seeds"].contains("global")) j["seeds"]["global"] = seed;
  }
  if (j.contains("loss") && j["loss"].is_object() && j["loss"].contains("lr")) {
    json& loss = j["loss"];
    const json lr = loss["lr"];
    if (!j.contains("optimizer")) j["optimizer"] = json::object();
    json& optimizer = j["optimizer"];
    if (!optimizer.is_object()) return issues;  // validation names the bad optimizer block
    if (!optimizer.contains("lr")) {
      optimizer["lr"] = lr;
      loss.erase("lr");
    } else if (optimizer["lr"] == lr) {
      loss.erase("lr");
    } else {
      issues.push_back({"loss.lr", 0,
                        "is the predecessor's learning rate (it ignored optimizer.lr), and "
                        "optimizer.lr is " + optimizer["lr"].dump() + ": set one of them"});
      loss.erase("lr");
    }
  }
  note_pretrain_scheduler_lr(j, moedil_written, notes);
  return issues;
}

}  // namespace moedil::config
