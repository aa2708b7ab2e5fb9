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

/// The digits at `name[at...]` and the position after them; npos when there are none.
std::pair<std::string, std::size_t> digits_at(const std::string& name, std::size_t at) {
  std::size_t end = at;
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == at) return {"", std::string::npos};
  return {name.substr(at, end - at), end};
}

/// torchvision's ConvNeXt name in moedil's naming, or "" when it is not one:
/// features.0.0 / .1 -> stem / stem_norm; features.(2s+1).B.block.0 / 2 / 3 / 5 and
/// .layer_scale -> stage<s>.B.dwconv / norm / pwconv1 / pwconv2 and .gamma; features.(2i).0 /
/// .1 -> downsample_norm<i> / downsample_conv<i>; classifier.0 / .2 -> norm / head.
std::string from_torchvision_convnext(const std::string& name) {
  if (starts_with(name, "classifier.0.")) return "norm." + name.substr(13);
  if (starts_with(name, "classifier.2.")) return "head." + name.substr(13);
  if (starts_with(name, "features.0.0.")) return "stem." + name.substr(13);
  if (starts_with(name, "features.0.1.")) return "stem_norm." + name.substr(13);
  if (!starts_with(name, "features.")) return "";
  const auto [feature, after] = digits_at(name, 9);
  if (after == std::string::npos || after >= name.size() || name[after] != '.') return "";
  const int index = std::stoi(feature);
  const auto [inner, rest_at] = digits_at(name, after + 1);
  if (rest_at == std::string::npos || rest_at >= name.size() || name[rest_at] != '.') return "";
  const std::string rest = name.substr(rest_at + 1);
  if (index % 2 == 0) {  // a downsampling layer: LayerNorm2d, then the stride-2 conv
    const std::string i = std::to_string(index / 2);
    if (inner == "0") return "downsample_norm" + i + "." + rest;
    if (inner == "1") return "downsample_conv" + i + "." + rest;
    return "";
  }
  const std::string block = "stage" + std::to_string((index - 1) / 2) + "." + inner + ".";
  if (rest == "layer_scale") return block + "gamma";
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"block.0.", "dwconv."}, {"block.2.", "norm."}, {"block.3.", "pwconv1."},
      {"block.5.", "pwconv2."}};
  for (const auto& [from, to] : parts) {
    if (starts_with(rest, from)) return block + to + rest.substr(from.size());
  }
  return "";
}

/// moedil's ConvNeXt name in torchvision's naming (unchanged when not one).
std::string to_torchvision_convnext(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"stem_norm.", "features.0.1."}, {"stem.", "features.0.0."},
      {"norm.", "classifier.0."}, {"head.", "classifier.2."}};
  for (const auto& [from, to] : top) {
    if (starts_with(name, from)) return to + name.substr(from.size());
  }
  for (const auto& [prefix, inner] : {std::pair<std::string, std::string>{"downsample_norm", "0"},
                                      {"downsample_conv", "1"}}) {
    if (!starts_with(name, prefix)) continue;
    const auto [i, end] = digits_at(name, prefix.size());
    if (end == std::string::npos) return name;
    return "features." + std::to_string(2 * std::stoi(i)) + "." + inner + name.substr(end);
  }
  if (!starts_with(name, "stage")) return name;
  const auto [stage, dot] = digits_at(name, 5);
  if (dot == std::string::npos || dot >= name.size()) return name;
  const auto [block, after] = digits_at(name, dot + 1);
  if (after == std::string::npos || after >= name.size()) return name;
  const std::string prefix =
      "features." + std::to_string(2 * std::stoi(stage) + 1) + "." + block + ".";
  const std::string rest = name.substr(after + 1);
  if (rest == "gamma") return prefix + "layer_scale";
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"dwconv.", "block.0."}, {"norm.", "block.2."}, {"pwconv1.", "block.3."},
      {"pwconv2.", "block.5."}};
  for (const auto& [from, to] : parts) {
    if (starts_with(rest, from)) return prefix + to + rest.substr(from.size());
  }
  return name;
}

/// moedil's ViT name in torchvision's VisionTransformer naming (unchanged when not one).
std::string to_torchvision_vit(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> top = {
      {"patch_embed.", "conv_proj."},
      {"cls_token", "class_token"},
      {"pos_embed", "encoder.pos_embedding"},
      {"norm.", "encoder.ln."},
      {"head.", "heads.head."}};
  for (const auto& [from, to] : top) {
    if (starts_with(name, from)) return to + name.substr(from.size());
  }
  const std::string blocks = "blocks.";
  if (!starts_with(name, blocks)) return name;
  std::size_t end = blocks.size();
  while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
  if (end == blocks.size() || end >= name.size() || name[end] != '.') return name;
  const std::string layer =
      "encoder.layers.encoder_layer_" + name.substr(blocks.size(), end - blocks.size()) + ".";
  const std::string rest = name.substr(end + 1);
  static const std::vector<std::pair<std::string, std::string>> inner = {
      {"norm1.", "ln_1."},
      {"norm2.", "ln_2."},
      {"attn.qkv.weight", "self_attention.in_proj_weight"},
      {"attn.qkv.bias", "self_attention.in_proj_bias"},
      {"attn.proj.", "self_attention.out_proj."},
      {"mlp.fc1.", "mlp.0."},
      {"mlp.fc2.", "mlp.3."}};
  for (const auto& [from, to] : inner) {
    if (starts_with(rest, from)) return layer + to + rest.substr(from.size());
  }
  return name;
}

}  // namespace

NamedTensors from_moedil_names(const NamedTensors& weights, const std::string& naming) {
  if (naming == "moedil") return weights;
  const bool vit = weights.count("pos_embed") > 0;
  const bool convnext = weights.count("stem_norm.weight") > 0;
  NamedTensors out;
  for (const auto& [name, tensor] : weights) {
    std::string target = name;
    if (naming == "timm") {
      if (starts_with(name, "patch_embed.")) target = "patch_embed.proj." + name.substr(12);
    } else if (vit) {
      target = to_torchvision_vit(name);
    } else if (convnext) {
      target = to_torchvision_convnext(name);
      if (target != name && target.size() > 12 &&
          target.compare(target.size() - 12, 12, ".layer_scale") == 0) {
        out[target] = tensor.reshape({-1, 1, 1});  // torchvision's [C, 1, 1]
        continue;
      }
    } else {
      target = replace_once(replace_once(name, ".shortcut_conv.", ".downsample.0."),
                            ".shortcut_bn.", ".downsample.1.");
    }
    out[target] = tensor;
  }
  return out;
}

RenamedWeights to_moedil_names(const NamedTensors& weights,
                               const std::set<std::string>& model_names) {
  RenamedWeights out;
  for (const auto& [name, tensor] : weights) {
    std::string target = name;
    std::string naming;
    // moedil never uses these names, so they are renamed whether or not the model has the
    // result: an MoE model upcycles its experts from the renamed dense tensors.
    if (!model_names.count(name)) {
      if (name.find(".downsample.") != std::string::npos) {
        target = replace_once(replace_once(name, ".downsample.0.", ".shortcut_conv."),
                              ".downsample.1.", ".shortcut_bn.");
        naming = "torchvision";
      } else if (starts_with(name, "patch_embed.proj.")) {
        target = replace_once(name, "patch_embed.proj.", "patch_embed.");
        naming = "timm";
      } else if (const std::string vit = from_torchvision_vit(name); !vit.empty()) {
        target = vit;
        naming = "torchvision";
      } else if (const std::string convnext = from_torchvision_convnext(name);
                 !convnext.empty()) {
        target = convnext;
        naming = "torchvision";
      }
    }
    if (!naming.empty()) out.naming = naming;
    // torchvision's ConvNeXt layer scale is [C, 1, 1], moedil's gamma [C].
    const bool layer_scale = naming == "torchvision" && target.size() > 6 &&
                             target.compare(target.size() - 6, 6, ".gamma") == 0;
    out.weights[target] = layer_scale ? tensor.reshape({-1}) : tensor;
  }
  return out;
}

}  // namespace moedil::model
