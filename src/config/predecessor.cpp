#include "moedil/config/predecessor.h"

#include <algorithm>
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
/// expert is a ViT MLP block: moedil's vit. None (the input passed through) or several (summed)
/// are refused.
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
  if (shared != 1) {
    issues.push_back(
        {"model.moe_top_k", 0,
         shared == 0 ? "no expert runs here (0 routed chosen, no shared expert): the "
                       "predecessor passed the layer's input through unchanged, which moedil "
                       "does not build"
                     : "0 routed experts chosen: the predecessor summed the " +
                           std::to_string(shared) +
                           " shared experts of each layer, which moedil does not offer yet"});
    return;
  }
  model["name"] = "vit";
  for (const char* key : {"moe_layer_indices", "moe_num_unshared_experts",
                          "moe_num_shared_experts", "moe_top_k", "moe_routing_granularity",
                          "moe_route_with_cls_token", "moe_noise_std", "moe_capacity_factor",
                          "moe_routing", "moe_expert_dropout", "moe_balance_losses"}) {
    model.erase(key);
  }
  notes.push_back("model: vit_moe with 0 routed experts chosen and 1 shared expert is a ViT with "
                  "an MLP in every block (the predecessor's layers summed their shared experts): "
                  "moedil's vit");
}

/// The families the predecessor's vit_moe factory built (it ignored model.pretrained).
bool vit_family(const std::string& name) {
  return name.rfind("vit", 0) == 0 || name == "hetero_moe" || name == "switch_moe_vit";
}

void apply_model_keys(json& model, std::vector<ConfigIssue>& issues,
                      std::vector<std::string>& notes) {
  for (const char* key : {"num_classes", "img_size", "pretrained_vit_tiny_path"}) {
    erase_null(model, key);
  }
  const json given_name = model.value("name", json(ModelConfig{}.name));
  const std::string name = given_name.is_string() ? given_name.get<std::string>() : "";
  if (model.contains("pretrained")) {
    const json value = model["pretrained"];
    if (value == false || value.is_null()) {
      model.erase("pretrained");
    } else if (value == true && vit_family(name)) {
      model.erase("pretrained");
      notes.push_back("model.pretrained: true: the predecessor's ViT models ignored it (a "
                      "random start, as here)");
    } else {
      issues.push_back({"model.pretrained", 0,
                        "true loaded torchvision's ImageNet weights in the predecessor, which "
                        "moedil cannot download: save them to a file and give "
                        "model.init_weights, or set false for a random start"});
      model.erase("pretrained");
    }
  }
  if (model.contains("pretrained_vit")) {
    const json value = model["pretrained_vit"];
    if (value.is_null() || value == false) {
      model.erase("pretrained_vit");
    } else if (value == true) {
      model.erase("pretrained_vit");
      notes.push_back("model.pretrained_vit: true loaded nothing in the predecessor (only "
                      "\"small\" and \"tiny\" did): a random start, as there");
    } else {
      issues.push_back({"model.pretrained_vit", 0,
                        "the predecessor loaded timm's " + value.dump() +
                            " ViT weights here, which moedil cannot download: save them to a "
                            "file and give model.init_weights, or set null for a random start"});
      model.erase("pretrained_vit");
    }
  }
  if (model.contains("pretrained_vit_tiny_path")) {
    issues.push_back({"model.pretrained_vit_tiny_path", 0,
                      "give the weights file as model.init_weights (moedil reads PyTorch state "
                      "dicts), or set null for a random start"});
    model.erase("pretrained_vit_tiny_path");
  }
  // Keys the predecessor's model factories took and ignored (**kwargs, or overridden): dropped,
  // with a note. Its switch model always had 4 expert blocks, whatever upper_blocks said.
  const auto ignored = [&](const char* key, const std::string& why) {
    if (!model.contains(key)) return;
    model.erase(key);
    notes.push_back(std::string("model.") + key + ": " + why);
  };
  if (name == "vit_moe" || name == "vit_moe_imagelevel") {
    for (const char* key : {"route_with_cls_token", "route_with_class_token",
                            "route_with_CLS_token"}) {
      ignored(key, "ignored by the predecessor's " + name +
                       " (its routing input is model.moe_route_with_cls_token), so here too");
    }
  }
  if (name == "switch_moe_vit") {
    for (const char* key : {"route_with_cls_token", "route_with_class_token",
                            "prototype_init_domains"}) {
      ignored(key, "ignored by the predecessor's switch factory, so here too");
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
  if (name == "vit_moe") apply_shared_only(model, issues, notes);
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

}  // namespace

std::string model_alias(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"moe_vit", "vit_moe"},
      {"vit_switch_moe", "switch_moe_vit"},
      {"switch_moe", "switch_moe_vit"},
      {"vit_switch", "switch_moe_vit"},
  };
  const std::string key = ascii_lower(name);
  if (const auto it = aliases.find(key); it != aliases.end()) return it->second;
  if (has_cifar_suffix(key)) return key.substr(0, key.size() - std::string("-cifar").size());
  return key != name ? key : "";
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
  for (const char* key : {"mini_dataset", "router_lr_multiplier"}) erase_null(j, key);
  if (json* scheduler = object_at(j, "scheduler")) erase_null(*scheduler, "T_max");
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
                        "post-pretraining weights at the base LR; the predecessor's also "
                        "followed the scheduler");
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
    if (pretrain->value("enabled", json(false)) == true) {
      notes.push_back("pretrain: the samples are drawn class-balanced from the domains' training "
                      "splits and stay in them; the predecessor drew uniformly from the whole "
                      "dataset and (without replacement) removed them from the domains");
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
        model["name"] = name;
      }
    }
    apply_model_keys(model, issues, notes);
    if (model.contains("moe_layer_indices") && model["moe_layer_indices"].is_null()) {
      notes.push_back("model.moe_layer_indices: null is block 1, as in the predecessor's last "
                      "version (older versions built no MoE layer)");
    }
  }
  if (j.contains("dataset") && j["dataset"].is_string()) {
    if (const std::string name = dataset_alias(j["dataset"].get<std::string>()); !name.empty()) {
      j["dataset"] = name;
    }
    const std::string dataset = j["dataset"].get<std::string>();
    if ((dataset == "core50" || dataset == "officehome") && j.contains("mini_dataset")) {
      j.erase("mini_dataset");
      notes.push_back("mini_dataset: the predecessor applied it to cifar10 only, so all of " +
                      dataset + " is used, as there");
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
  return issues;
}

}  // namespace moedil::config
