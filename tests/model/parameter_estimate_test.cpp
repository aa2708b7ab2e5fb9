// The analytic parameter count against the models LibTorch builds: equal, for every family.
#include "moedil/model/parameter_estimate.h"

#include <gtest/gtest.h>

#include <torch/utils.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/load.h"
#include "moedil/model/registry.h"
#include "moedil/train/experiment.h"

namespace moedil::model {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  const char* dir = std::getenv("MOEDIL_SOURCE_DIR");
  return dir ? fs::path(dir) : fs::path(MOEDIL_SOURCE_DIR_DEFAULT);
}

/// Parameters of the model make_model builds for m on `input`.
double built_parameters(const config::ModelConfig& m, const ImageSpec& input) {
  torch::manual_seed(0);
  const Classifier model =
      make_model(m, InputShape{input.channels, input.height, input.width, input.num_classes});
  return static_cast<double>(count_parameters(*model));
}

TEST(ParameterEstimate, EqualsTheBuiltModelForEveryFamilyOnTheShippedConfigs) {
  std::map<std::string, std::vector<config::RunConfig>> by_family;
  for (const auto& entry : fs::directory_iterator(source_dir() / "configs")) {
    if (entry.path().extension() != ".jsonc") continue;
    const config::RunConfig c = config::load_run_config(entry.path(), {}, train::name_catalog());
    by_family[c.model.name].push_back(c);
  }
  const ImageSpec fashion_mnist{1, 28, 28, 10};  // the shipped configs' dataset
  for (const auto& family : model_registry().entries()) {
    SCOPED_TRACE(family.name);
    ASSERT_TRUE(by_family.count(family.name)) << "no shipped config uses " << family.name;
    for (const config::RunConfig& c : by_family[family.name]) {
      EXPECT_EQ(estimate_parameters(c.model, fashion_mnist), built_parameters(c.model, fashion_mnist));
    }
  }
}

TEST(ParameterEstimate, EqualsTheBuiltModelForOtherOptions) {
  const ImageSpec rgb{3, 16, 16, 7};
  std::vector<config::ModelConfig> variants;
  config::ModelConfig vit;
  vit.patch_size = 4;
  vit.embed_dim = 24;
  vit.depth = 3;
  vit.num_heads = 2;
  vit.mlp_ratio = 1.7;  // hidden = floor(40.8) = 40
  vit.moe_layer_indices = {0, 2, 2};  // a block listed twice is one block
  vit.moe_num_unshared_experts = 3;
  vit.moe_num_shared_experts = 2;
  for (const char* name : {"vit", "vit_moe", "vit_moe_centroid", "switch_moe_vit"}) {
    config::ModelConfig m = vit;
    m.name = name;
    m.expert_depth = 1;
    variants.push_back(m);
  }
  config::ModelConfig hetero = vit;
  hetero.name = "hetero_moe";
  hetero.moe_layer_indices = {1};
  hetero.hetero_experts = {"mlp", "conv", "attention", "conv"};
  variants.push_back(hetero);
  for (const char* name : {"resnet18", "resnet18_conv_moe", "resnet18_block_moe"}) {
    config::ModelConfig m;
    m.name = name;
    m.resnet_width = 4;
    m.resnet_stem = "imagenet";
    m.resnet_moe_stages = {0, 1};  // stage 2 of a 16-pixel imagenet stem is 1x1
    m.moe_num_unshared_experts = 2;
    m.moe_num_shared_experts = 1;
    variants.push_back(m);
    m.resnet_stem = "cifar";
    m.resnet_moe_stages = {1, 3};
    variants.push_back(m);
  }
  config::ModelConfig convnext;
  convnext.name = "convnext_tiny";
  convnext.convnext_depths = {1, 2, 1, 1};
  convnext.convnext_dims = {8, 12, 16, 20};
  convnext.convnext_stem_patch = 4;
  variants.push_back(convnext);
  for (const auto& m : variants) {
    SCOPED_TRACE(m.name + " stem " + m.resnet_stem);
    EXPECT_EQ(estimate_parameters(m, rgb), built_parameters(m, rgb));
  }
}

TEST(ParameterEstimate, HugeConfigsAreCountedWithoutBuildingOrOverflow) {
  config::ModelConfig m;
  m.name = "vit_moe";
  m.embed_dim = 65536;
  m.depth = 1000;
  m.mlp_ratio = 4;
  m.moe_num_unshared_experts = 1024;
  m.moe_layer_indices.clear();
  for (int64_t i = 0; i < 1000; ++i) m.moe_layer_indices.push_back(i);
  const double n = estimate_parameters(m, {1, 28, 28, 10});
  EXPECT_TRUE(std::isfinite(n));
  EXPECT_GT(n, 1e16);  // 1000 blocks x 1024 experts x 2 x 65536 x 262144
}

TEST(ParameterEstimate, UnknownFamilyIsAConfigError) {
  config::ModelConfig m;
  m.name = "mystery";
  EXPECT_THROW(estimate_parameters(m, {}), ConfigError);
}

}  // namespace
}  // namespace moedil::model
