#include "moedil/model/weight_names.h"

#include <cctype>
#include <utility>
#include <vector>

namespace moedil::model {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// `name` with its first occurrence of `from` replaced by `to` (unchanged without one).
std::string replace_once(const std::string& name, const std::string& from,
                         const std::string& to) {
  const std::size_t at = name.find(from);
  if (at == std::string::npos) return name;
  return name.substr(0, at) + to + name.substr(at + from.size());
}

/// torchvision's VisionTransformer name in moedil's (timm's) naming, or "" when it is not one.
std::string from_torchvision_vit(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"conv_proj.", "patch_embed."},
      {"class_token", "cls_token"},
      {"encoder.pos_embedding", "pos_embed"},
      {"encoder.ln.", "norm."},
      {"heads.head.", "head."}};
  for (const auto& [from, to] : top) {
    if (starts_with(name, from)) return to + name.substr(from.size());
  }
  const std::string layers = "encoder.layers.encoder_layer_";
  if (!starts_with(name, layers)) return "";
  std::size_t end = layers.size();
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == layers.size() || end >= name.size() || name[end] != '.') return "";
  const std::string block = "blocks." + name.substr(layers.size(), end - layers.size()) + ".";
  const std::string rest = name.substr(end + 1);
  static const std::vector<std::pair<std::string, std::string>> inner = {
      {"ln_1.", "norm1."},
      {"ln_2.", "norm2."},
      {"self_attention.in_proj_weight", "attn.qkv.weight"},
      {"self_attention.in_proj_bias", "attn.qkv.bias"},
      {"self_attention.out_proj.", "attn.proj."},
      {"mlp.0.", "mlp.fc1."},
      {"mlp.3.", "mlp.fc2."},
      {"mlp.linear_1.", "mlp.fc1."},
      {"mlp.linear_2.", "mlp.fc2."}};
  for (const auto& [from, to] : inner) {
    if (starts_with(rest, from)) return block + to + rest.substr(from.size());
  }
  return "";
}

}  // namespace

RenamedWeights to_moedil_names(const NamedTensors& weights,
                               const std::set<std::string>& model_names) {
  RenamedWeights out;
  for (const auto& [name, tensor] : weights) {
    std::string target = name;
    std::string naming;
    if (!model_names.count(name)) {
      if (name.find(".downsample.") != std::string::npos) {
        const std::string shortcut = replace_once(
            replace_once(name, ".downsample.0.", ".shortcut_conv."), ".downsample.1.",
            ".shortcut_bn.");
        if (model_names.count(shortcut)) {
          target = shortcut;
          naming = "torchvision";
        }
      } else if (starts_with(name, "patch_embed.proj.")) {
        const std::string timm = replace_once(name, "patch_embed.proj.", "patch_embed.");
        if (model_names.count(timm)) {
          target = timm;
          naming = "timm";
        }
      } else if (const std::string vit = from_torchvision_vit(name);
                 !vit.empty() && model_names.count(vit)) {
        target = vit;
        naming = "torchvision";
      }
    }
    if (!naming.empty()) out.naming = naming;
    out.weights[target] = tensor;
  }
  return out;
}

}  // namespace moedil::model
