#pragma once
// Model registry: config `model.name` -> builder.
#include <functional>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"
#include "moedil/model/classifier.h"

namespace moedil::model {

using ModelBuilder = std::function<Classifier(const config::ModelConfig&, const InputShape&)>;

/// Every registered model family (vit, vit_moe, vit_moe_centroid, switch_moe_vit,
/// hetero_moe, resnet18, resnet18_conv_moe, resnet18_block_moe, convnext_tiny).
const Registry<ModelBuilder>& model_registry();

/// Builds the configured model for the input shape. Weights are drawn from LibTorch's global
/// generator: seed it (seeds.model) first. Throws ConfigError for options that do not fit the
/// input (e.g. patch_size not dividing the image size).
Classifier make_model(const config::ModelConfig& c, const InputShape& input);

/// Number of parameters (trainable ones when trainable_only).
int64_t count_parameters(const ClassifierImpl& model, bool trainable_only = false);

}  // namespace moedil::model
