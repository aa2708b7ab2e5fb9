#pragma once
// The predecessor's names (GitHub scaleoutsystems/continous-MoE), read with their meaning before
// a config is validated: its model and dataset aliases and its learning-rate key.
//   model.name   moe_vit -> vit_moe; vit_switch_moe, switch_moe, vit_switch -> switch_moe_vit;
//                resnetNN-cifar -> resnetNN with resnet_stem "cifar" (unless given); any
//                letter case (the predecessor lower-cased model names)
//   dataset      officehomedataset, officehome_10072016, office-home -> officehome
//   loss.lr      the learning rate (the predecessor read it there and ignored optimizer.lr):
//                moved to optimizer.lr; both set to different values is a problem
// Torch-free.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/config/resolve.h"

namespace moedil::config {

/// Rewrites the predecessor's names in `j` (a whole config object) to moedil's, in place, and
/// returns the problems found (path and message; the line is filled in by the caller). Leaves
/// anything it does not recognise for validation to judge.
std::vector<ConfigIssue> apply_predecessor_names(nlohmann::json& j);

/// The moedil model name for a predecessor alias (any case), or "" when `name` is none.
std::string model_alias(const std::string& name);

/// The moedil dataset name for a predecessor alias, or "" when `name` is none.
std::string dataset_alias(const std::string& name);

}  // namespace moedil::config
