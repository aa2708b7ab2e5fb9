#pragma once
// Pretrained starts and the named ViT shapes, resolved on the JSON before it is read:
//   model.name vit_tiny / vit_small   moedil's vit with timm's ViT-Tiny/Small shape (patch 16,
//                                     width 192 / 384, 12 blocks, 3 / 6 heads, MLP ratio 4)
//   model.pretrained: true            the documented file of the family under weights_dir
//                                     (pretrained_file_name), "PATH" that file, false none
//   model.pretrained_vit              the predecessor's: "tiny" / "small" = weights_dir's
//                                     vit_tiny.pt / vit_small.pt, the shape left out taken
//                                     from it; true / null loaded nothing there, nor here
//   model.pretrained_vit_tiny_path    the predecessor's: a file with ViT-Tiny's weights
//   weights_dir                       left out: $MOEDIL_WEIGHTS, else datasets/weights
// After it, model.pretrained is a path or absent; run.json records the path and weights_dir.
// Torch-free.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/config/resolve.h"

namespace moedil::config {

/// Where pretrained weights are looked up when neither the config nor MOEDIL_WEIGHTS says.
inline constexpr const char* kDefaultWeightsDir = "datasets/weights";

/// Rewrites the keys above in `j` (a whole config, after the predecessor's names) and returns
/// the problems found; notes get a line where a value means what the predecessor meant.
std::vector<ConfigIssue> resolve_pretrained(nlohmann::json& j, std::vector<std::string>& notes);

/// The file `model.pretrained: true` reads for a model of this family and ViT width
/// ("resnet18.pt", "convnext_tiny.pt", "vit_tiny.pt", "vit_small.pt", "vit_b_16.pt"), or ""
/// when no pretrained model of that shape is documented.
std::string pretrained_file_name(const std::string& family, int64_t embed_dim);

/// The one-line Python command that writes `file_name` (one of pretrained_file_name's) on a
/// machine with torchvision or timm and the internet; "" for another name.
std::string export_command(const std::string& file_name);

/// The error for a model.pretrained file that is not there: it names the path, the command
/// that exports the file (when its name is a documented one) and where weights_dir comes from.
std::string missing_pretrained_message(const std::string& path, const std::string& weights_dir);

}  // namespace moedil::config
