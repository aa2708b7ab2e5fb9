#include "moedil/config/predecessor.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace moedil::config {
namespace {

using json = nlohmann::json;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// The predecessor's resnetNN-cifar names (resnetNN with the CIFAR stem).
bool has_cifar_suffix(const std::string& lowered) {
  const std::string suffix = "-cifar";
  return lowered.size() > suffix.size() &&
         lowered.compare(lowered.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string model_alias(const std::string& name) {
  static const std::map<std::string, std::string> aliases = {
      {"moe_vit", "vit_moe"},
      {"vit_switch_moe", "switch_moe_vit"},
      {"switch_moe", "switch_moe_vit"},
      {"vit_switch", "switch_moe_vit"},
  };
  const std::string key = lower(name);
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
  const auto it = aliases.find(lower(name));
  return it != aliases.end() ? it->second : "";
}

std::vector<ConfigIssue> apply_predecessor_names(json& j) {
  std::vector<ConfigIssue> issues;
  if (!j.is_object()) return issues;
  if (j.contains("model") && j["model"].is_object()) {
    json& model = j["model"];
    if (model.contains("name") && model["name"].is_string()) {
      const std::string given = model["name"].get<std::string>();
      if (const std::string name = model_alias(given); !name.empty()) {
        if (has_cifar_suffix(lower(given)) && !model.contains("resnet_stem")) {
          model["resnet_stem"] = "cifar";
        }
        model["name"] = name;
      }
    }
  }
  if (j.contains("dataset") && j["dataset"].is_string()) {
    if (const std::string name = dataset_alias(j["dataset"].get<std::string>()); !name.empty()) {
      j["dataset"] = name;
    }
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
