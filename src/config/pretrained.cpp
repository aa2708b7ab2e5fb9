#include "moedil/config/pretrained.h"

#include <cstdlib>
#include <map>
#include <utility>

namespace moedil::config {
namespace {

using json = nlohmann::json;

/// A named shape: the model keys it fixes.
struct Shape {
  std::string what;
  std::vector<std::pair<const char*, json>> keys;
};

const Shape* vit_shape(const std::string& size) {
  static const std::map<std::string, Shape> shapes = {
      {"tiny",
       {"timm's ViT-Tiny/16",
        {{"patch_size", 16}, {"embed_dim", 192}, {"depth", 12}, {"num_heads", 3},
         {"mlp_ratio", 4.0}}}},
      {"small",
       {"timm's ViT-Small/16",
        {{"patch_size", 16}, {"embed_dim", 384}, {"depth", 12}, {"num_heads", 6},
         {"mlp_ratio", 4.0}}}}};
  const auto it = shapes.find(size);
  return it == shapes.end() ? nullptr : &it->second;
}

/// Sets the keys of `shape` that `model` leaves out; a given key with another value is a
/// problem (`why` says which choice fixed the shape).
void take_shape(json& model, const Shape& shape, const std::string& why,
                std::vector<ConfigIssue>& issues) {
  for (const auto& [key, value] : shape.keys) {
    if (!model.contains(key) || model[key].is_null()) {
      model[key] = value;
    } else if (!(model[key] == value)) {
      issues.push_back({std::string("model.") + key, 0,
                        "is " + model[key].dump() + " but " + why + " is " + shape.what + " (" +
                            key + " " + value.dump() + "); leave it out"});
    }
  }
}

bool resnet_family(const std::string& name) { return name.rfind("resnet18", 0) == 0; }

/// The predecessor's ViT families, whose factories ignored model.pretrained.
bool ignores_pretrained(const std::string& name) {
  return name.rfind("vit", 0) == 0 || name == "hetero_moe" || name == "switch_moe_vit";
}

std::string join(const std::string& dir, const std::string& file) {
  if (dir.empty()) return file;
  return dir.back() == '/' ? dir + file : dir + "/" + file;
}

}  // namespace

std::string pretrained_file_name(const std::string& family, int64_t embed_dim) {
  if (resnet_family(family)) return "resnet18.pt";
  if (family == "convnext_tiny") return "convnext_tiny.pt";
  if (ignores_pretrained(family) || family == "vit") {
    if (embed_dim == 192) return "vit_tiny.pt";
    if (embed_dim == 384) return "vit_small.pt";
    if (embed_dim == 768) return "vit_b_16.pt";
  }
  return "";
}

std::string export_command(const std::string& file_name) {
  const auto torchvision = [&](const std::string& model) {
    return "python3 -c \"import torch, torchvision; torch.save(torchvision.models." + model +
           "(weights='IMAGENET1K_V1').state_dict(), '" + file_name + "')\"";
  };
  const auto timm = [&](const std::string& model) {
    return "python3 -c \"import torch, timm; torch.save(timm.create_model('" + model +
           "', pretrained=True).state_dict(), '" + file_name + "')\"";
  };
  if (file_name == "resnet18.pt") return torchvision("resnet18");
  if (file_name == "convnext_tiny.pt") return torchvision("convnext_tiny");
  if (file_name == "vit_b_16.pt") return torchvision("vit_b_16");
  if (file_name == "vit_tiny.pt") return timm("vit_tiny_patch16_224");
  if (file_name == "vit_small.pt") return timm("vit_small_patch16_224");
  return "";
}

std::string missing_pretrained_message(const std::string& path, const std::string& weights_dir) {
  const std::size_t slash = path.find_last_of('/');
  const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string command = export_command(file);
  std::string message = "model.pretrained: the weights file '" + path + "' does not exist. ";
  if (command.empty()) {
    return message + "Give the path of a weights file you have (README: Transfer from "
                     "pretrained weights).";
  }
  return message + "moedil downloads nothing: on a machine with " +
         (file.rfind("vit_", 0) == 0 && file != "vit_b_16.pt" ? "timm" : "torchvision") +
         " and the internet run\n  " + command + "\nand copy " + file + " to '" + path +
         "' (weights_dir '" + weights_dir +
         "': the config's weights_dir, else $MOEDIL_WEIGHTS, else " + kDefaultWeightsDir + ").";
}

std::vector<ConfigIssue> resolve_pretrained(json& j, std::vector<std::string>& notes) {
  std::vector<ConfigIssue> issues;
  if (!j.is_object()) return issues;
  // weights_dir: the config's, else the environment's, else the default; written back so
  // run.json records where the weights came from.
  if (!j.contains("weights_dir")) {
    const char* env = std::getenv("MOEDIL_WEIGHTS");
    j["weights_dir"] = env && *env ? std::string(env) : std::string(kDefaultWeightsDir);
  }
  if (!j["weights_dir"].is_string() || j["weights_dir"].get<std::string>().empty()) {
    issues.push_back({"weights_dir", 0,
                      "expected the folder of pretrained weights files, got " +
                          j["weights_dir"].dump()});
    return issues;
  }
  const std::string dir = j["weights_dir"].get<std::string>();
  if (!j.contains("model") || !j["model"].is_object()) return issues;
  json& model = j["model"];
  if (!model.contains("name") || !model["name"].is_string()) {
    // Left out: the default family (vit_moe), which reads no pretrained shape of its own.
  } else if (const std::string name = model["name"].get<std::string>();
             name == "vit_tiny" || name == "vit_small") {
    take_shape(model, *vit_shape(name.substr(4)), "model.name " + name, issues);
    model["name"] = "vit";
    if (model.value("pretrained", json(false)) == true) {
      model["pretrained"] = join(dir, name + ".pt");
    }
  }
  const std::string name = model.value("name", json("vit_moe")).is_string()
                               ? model.value("name", json("vit_moe")).get<std::string>()
                               : std::string();
  // The predecessor's timm ViTs.
  std::string from_vit;  // the file pretrained_vit or pretrained_vit_tiny_path names
  std::string from_key;
  if (model.contains("pretrained_vit")) {
    const json value = model["pretrained_vit"];
    model.erase("pretrained_vit");
    if (value == "tiny" || value == "small") {
      const std::string size = value.get<std::string>();
      take_shape(model, *vit_shape(size), "model.pretrained_vit \"" + size + "\"", issues);
      from_vit = join(dir, "vit_" + size + ".pt");
      from_key = "model.pretrained_vit";
    } else if (value == true) {
      notes.push_back("model.pretrained_vit: true loaded nothing in the predecessor (only "
                      "\"small\" and \"tiny\" did): a random start, as there");
    } else if (!value.is_null() && value != false) {
      issues.push_back({"model.pretrained_vit", 0,
                        "expected \"tiny\", \"small\" or null, got " + value.dump()});
    }
  }
  if (model.contains("pretrained_vit_tiny_path")) {
    const json value = model["pretrained_vit_tiny_path"];
    model.erase("pretrained_vit_tiny_path");
    if (value.is_string() && !value.get<std::string>().empty()) {
      if (!from_vit.empty()) {
        issues.push_back({"model.pretrained_vit_tiny_path", 0,
                          "and model.pretrained_vit both name weights: keep one"});
      } else {
        take_shape(model, *vit_shape("tiny"), "model.pretrained_vit_tiny_path", issues);
        from_vit = value.get<std::string>();
        from_key = "model.pretrained_vit_tiny_path";
      }
    } else if (!value.is_null()) {
      issues.push_back({"model.pretrained_vit_tiny_path", 0,
                        "expected the path of a weights file or null, got " + value.dump()});
    }
  }
  // The form of the previous version: true with the file as init_weights.
  const bool init_file = model.contains("init_weights") && model["init_weights"].is_string() &&
                         !model["init_weights"].get<std::string>().empty();
  if (init_file && (model.value("pretrained", json(false)) == true || !from_vit.empty())) {
    const std::string file = model["init_weights"].get<std::string>();
    model.erase("init_weights");
    notes.push_back("model.init_weights: " + file + " is the pretrained start that " +
                    (from_vit.empty() ? std::string("model.pretrained") : from_key) +
                    " asks for (model.pretrained: \"" + file + "\" says it alone)");
    model["pretrained"] = file;
    from_vit.clear();
  }
  if (model.contains("pretrained")) {
    const json value = model["pretrained"];
    if (value.is_null() || value == false || value == "") {
      model.erase("pretrained");  // none ("" is how run.json writes none)
    } else if (value == true) {
      if (ignores_pretrained(name)) {
        model.erase("pretrained");
        notes.push_back("model.pretrained: true: the predecessor's ViT models ignored it (a "
                        "random start, as here); a pretrained ViT start is model.pretrained_vit "
                        "\"tiny\" / \"small\", model.pretrained: \"PATH\", or the vit_tiny / "
                        "vit_small models");
      } else {
        if (resnet_family(name)) {
          // The file is ResNet-18 at its ImageNet width; its stem is the config's choice.
          if (!model.contains("resnet_width")) model["resnet_width"] = 64;
        } else if (name == "convnext_tiny") {
          if (!model.contains("convnext_dims")) model["convnext_dims"] = {96, 192, 384, 768};
          if (!model.contains("convnext_depths")) model["convnext_depths"] = {3, 3, 9, 3};
          if (!model.contains("convnext_stem_patch")) model["convnext_stem_patch"] = 4;
        }
        const json embed_dim = model.value("embed_dim", json(0));
        const int64_t width = embed_dim.is_number_integer() ? embed_dim.get<int64_t>() : 0;
        const std::string file = pretrained_file_name(name, width);
        if (file.empty()) {
          issues.push_back({"model.pretrained", 0,
                            "true has no documented weights file for model " + name +
                                " (resnet18, convnext_tiny, vit_tiny, vit_small have one): give "
                                "the file's path instead (README: Transfer from pretrained "
                                "weights)"});
          model.erase("pretrained");
        } else {
          model["pretrained"] = join(dir, file);
        }
      }
    } else if (!value.is_string()) {
      issues.push_back({"model.pretrained", 0,
                        "expected true, false or the path of a weights file, got " +
                            value.dump()});
      model.erase("pretrained");
    }
  }
  if (!from_vit.empty()) {
    if (model.contains("pretrained")) {
      issues.push_back({from_key, 0, "and model.pretrained both name weights: keep one"});
    } else {
      model["pretrained"] = from_vit;
    }
  }
  if (model.contains("pretrained") && model.contains("init_weights") &&
      model["init_weights"].is_string() && !model["init_weights"].get<std::string>().empty()) {
    issues.push_back({"model.init_weights", 0,
                      "and model.pretrained both name a weights file: keep one"});
  }
  return issues;
}

}  // namespace moedil::config
