// Pretrained starts, weights_dir and the named ViT shapes (config/pretrained.h).
#include "moedil/config/pretrained.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace moedil::config {
namespace {

using json = nlohmann::json;

const NameCatalog kNames{{"fashion_mnist", "officehome"},
                         {"rotate", "domainIncremental"},
                         {"vit", "vit_moe", "switch_moe_vit", "resnet18", "resnet18_conv_moe",
                          "convnext_tiny", "vit_moe_imagelevel"},
                         {"adam"},
                         {"cross_entropy"},
                         {"none"},
                         {"reservoir"},
                         {"switch", "mean_prob_mse"},
                         {}};

std::vector<ConfigIssue> problems(const std::string& text, RunConfig& out) {
  return check_run_config(json::parse(text), kNames, "", out);
}

RunConfig read(const std::string& text) {
  RunConfig out;
  const auto issues = problems(text, out);
  for (const auto& issue : issues) ADD_FAILURE() << issue.path << ": " << issue.message;
  return out;
}

std::vector<ConfigIssue> problems(const std::string& text) {
  RunConfig out;
  return problems(text, out);
}

/// MOEDIL_WEIGHTS set for one scope.
struct WeightsEnv {
  explicit WeightsEnv(const char* value) {
    if (const char* old = std::getenv("MOEDIL_WEIGHTS")) saved = old, had = true;
    if (value) {
      setenv("MOEDIL_WEIGHTS", value, 1);
    } else {
      unsetenv("MOEDIL_WEIGHTS");
    }
  }
  ~WeightsEnv() {
    if (had) {
      setenv("MOEDIL_WEIGHTS", saved.c_str(), 1);
    } else {
      unsetenv("MOEDIL_WEIGHTS");
    }
  }
  std::string saved;
  bool had = false;
};

TEST(Pretrained, ViTPresetsAreTimmsShapes) {
  const RunConfig tiny = read(R"({"model": {"name": "vit_tiny"}})");
  EXPECT_EQ(tiny.model.name, "vit");
  EXPECT_EQ(tiny.model.patch_size, 16);
  EXPECT_EQ(tiny.model.embed_dim, 192);
  EXPECT_EQ(tiny.model.depth, 12);
  EXPECT_EQ(tiny.model.num_heads, 3);
  EXPECT_EQ(tiny.model.mlp_ratio, 4.0);
  EXPECT_EQ(tiny.model.pretrained, "");  // a shape, not weights
  const RunConfig small = read(R"({"model": {"name": "vit_small", "embed_dim": 384}})");
  EXPECT_EQ(small.model.embed_dim, 384);
  EXPECT_EQ(small.model.num_heads, 6);
  // Another shape under the preset's name is refused, naming the preset.
  const auto issues = problems(R"({"model": {"name": "vit_tiny", "depth": 6}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.depth");
  EXPECT_NE(issues[0].message.find("model.name vit_tiny is timm's ViT-Tiny/16 (depth 12)"),
            std::string::npos)
      << issues[0].message;
}

TEST(Pretrained, TrueReadsTheFamilysFileUnderWeightsDir) {
  {
    WeightsEnv none(nullptr);
    const RunConfig c = read(R"({"model": {"name": "vit_small", "pretrained": true}})");
    EXPECT_EQ(c.model.pretrained, "datasets/weights/vit_small.pt");
    EXPECT_EQ(c.weights_dir, "datasets/weights");
    // run.json records the folder and the file, and reads back the same.
    const json written = to_json(c);
    EXPECT_EQ(written["weights_dir"], "datasets/weights");
    EXPECT_EQ(written["model"]["pretrained"], "datasets/weights/vit_small.pt");
    EXPECT_EQ(resolve_run_config(written, kNames).model.pretrained, c.model.pretrained);
  }
  {
    WeightsEnv env("/data/weights/");
    EXPECT_EQ(read(R"({"model": {"name": "convnext_tiny", "pretrained": true}})")
                  .model.pretrained,
              "/data/weights/convnext_tiny.pt");
    // The config's folder wins over the environment's.
    EXPECT_EQ(read(R"({"weights_dir": "mine", "model": {"name": "resnet18_conv_moe",
                                                       "pretrained": true}})")
                  .model.pretrained,
              "mine/resnet18.pt");
  }
  const RunConfig convnext = read(R"({"model": {"name": "convnext_tiny", "pretrained": true}})");
  EXPECT_EQ(convnext.model.convnext_dims, (std::vector<int64_t>{96, 192, 384, 768}));
  EXPECT_EQ(convnext.model.convnext_depths, (std::vector<int64_t>{3, 3, 9, 3}));
  EXPECT_EQ(convnext.model.convnext_stem_patch, 4);
  // A path is that file; false is none.
  EXPECT_EQ(read(R"({"model": {"name": "vit_moe", "pretrained": "my/vit.pt"}})").model.pretrained,
            "my/vit.pt");
  EXPECT_EQ(read(R"({"model": {"pretrained": false}})").model.pretrained, "");
  EXPECT_EQ(read(R"({"model": {"pretrained": ""}})").model.pretrained, "");
}

TEST(Pretrained, WhatCannotBeLoadedIsRefused) {
  for (const auto& [text, path] : std::vector<std::pair<std::string, std::string>>{
           {R"({"model": {"name": "vit_moe", "pretrained": 3}})", "model.pretrained"},
           {R"({"weights_dir": "", "model": {"name": "resnet18"}})", "weights_dir"},
           {R"({"model": {"name": "vit_moe", "pretrained_vit": "base"}})",
            "model.pretrained_vit"},
           {R"({"model": {"name": "vit_moe", "pretrained_vit": "small", "embed_dim": 96}})",
            "model.embed_dim"},
           {R"({"model": {"name": "vit_moe", "pretrained": "a.pt", "init_weights": "b.pt"}})",
            "model.init_weights"},
           {R"({"model": {"name": "vit_moe", "pretrained": "a.pt", "pretrained_vit": "tiny"}})",
            "model.pretrained_vit"}}) {
    const auto issues = problems(text);
    ASSERT_EQ(issues.size(), 1u) << text;
    EXPECT_EQ(issues[0].path, path) << text << ": " << issues[0].message;
  }
}

TEST(Pretrained, AMissingFileNamesThePathAndTheExportCommand) {
  const std::string message =
      missing_pretrained_message("datasets/weights/vit_small.pt", "datasets/weights");
  EXPECT_NE(message.find("'datasets/weights/vit_small.pt' does not exist"), std::string::npos);
  EXPECT_NE(message.find("python3 -c \"import torch, timm; torch.save(timm.create_model("
                         "'vit_small_patch16_224', pretrained=True).state_dict(), "
                         "'vit_small.pt')\""),
            std::string::npos)
      << message;
  EXPECT_NE(missing_pretrained_message("w/resnet18.pt", "w")
                .find("torchvision.models.resnet18(weights='IMAGENET1K_V1')"),
            std::string::npos);
  EXPECT_NE(missing_pretrained_message("x/mine.pt", "w").find("Give the path of a weights file"),
            std::string::npos);
  EXPECT_EQ(pretrained_file_name("resnet18_block_moe", 0), "resnet18.pt");
  EXPECT_EQ(pretrained_file_name("vit", 768), "vit_b_16.pt");
  EXPECT_EQ(pretrained_file_name("vit", 64), "");
}

TEST(Pretrained, UpcycleNoiseAndFreezeBackboneAreModelKeys) {
  const RunConfig c = read(R"({"model": {"name": "vit_moe", "upcycle_noise": 0.01,
                                         "freeze_backbone": true}})");
  EXPECT_EQ(c.model.upcycle_noise, 0.01);
  EXPECT_TRUE(c.model.freeze_backbone);
  // A dense model has no experts to upcycle.
  const auto issues = problems(R"({"model": {"name": "vit", "upcycle_noise": 0.01}})");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].path, "model.upcycle_noise");
}

}  // namespace
}  // namespace moedil::config
