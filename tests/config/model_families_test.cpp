// The model families' keys and rules (config/model_families.h).
#include "moedil/config/model_families.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace moedil::config {
namespace {

std::vector<std::string> messages(const ModelFamily& family, const ModelConfig& m) {
  std::vector<std::string> out;
  for (const auto& p : family.check(m)) out.push_back(p.key + ": " + p.message);
  return out;
}

TEST(ModelFamilies, ElevenFamiliesInListOrder) {
  std::vector<std::string> names;
  for (const ModelFamily& family : model_families()) names.push_back(family.name);
  EXPECT_EQ(names, (std::vector<std::string>{"vit", "vit_moe", "hetero_moe", "resnet18",
                                             "resnet18_conv_moe", "resnet18_block_moe",
                                             "convnext_tiny", "vit_moe_centroid",
                                             "vit_moe_imagelevel", "switch_moe_vit",
                                             "vit_prototype_heads"}));
}

TEST(ModelFamilies, FindAndReads) {
  ASSERT_NE(find_model_family("switch_moe_vit"), nullptr);
  EXPECT_EQ(find_model_family("switch_moe_vit")->name, "switch_moe_vit");
  EXPECT_EQ(find_model_family("resnet19"), nullptr);
  const ModelFamily& vit = *find_model_family("vit");
  EXPECT_TRUE(vit.reads("patch_size"));
  EXPECT_TRUE(vit.reads("init_weights"));
  EXPECT_FALSE(vit.reads("moe_top_k"));
  EXPECT_FALSE(vit.reads("name"));
  // The routed CNN families read the routing core, not the ViT keys.
  const ModelFamily& conv = *find_model_family("resnet18_conv_moe");
  EXPECT_TRUE(conv.reads("moe_top_k"));
  EXPECT_TRUE(conv.reads("resnet_moe_stages"));
  EXPECT_FALSE(conv.reads("moe_routing_granularity"));
  EXPECT_FALSE(conv.reads("embed_dim"));
  // vit_moe_centroid routes top-1 by token choice without capacity.
  const ModelFamily& image = *find_model_family("vit_moe_centroid");
  EXPECT_TRUE(image.reads("moe_balance_losses"));
  EXPECT_FALSE(image.reads("moe_routing"));
  EXPECT_FALSE(image.reads("moe_capacity_factor"));
  EXPECT_FALSE(image.reads("moe_top_k"));
}

TEST(ModelFamilies, EveryFamilyReadsInitWeightsAndNoKeyTwice) {
  for (const ModelFamily& family : model_families()) {
    SCOPED_TRACE(family.name);
    EXPECT_TRUE(family.reads("init_weights"));
    EXPECT_EQ(std::set<std::string>(family.keys.begin(), family.keys.end()).size(),
              family.keys.size());
  }
}

TEST(ModelFamilies, TheViTFamiliesShareTheBackboneKeys) {
  for (const char* name :
       {"vit", "vit_moe", "hetero_moe", "vit_moe_centroid", "switch_moe_vit"}) {
    SCOPED_TRACE(name);
    const ModelFamily& family = *find_model_family(name);
    for (const char* key :
         {"patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "dropout"}) {
      EXPECT_TRUE(family.reads(key)) << key;
    }
    ModelConfig m;
    m.name = name;
    m.embed_dim = 30;
    m.hetero_experts = {"mlp", "conv", "attention", "mlp"};
    EXPECT_EQ(messages(family, m),
              (std::vector<std::string>{
                  "num_heads: model.embed_dim (30) must be divisible by model.num_heads (4)"}));
  }
}

TEST(ModelFamilies, NotReadMessageListsTheFamilysKeys) {
  EXPECT_EQ(not_read_message(*find_model_family("convnext_tiny")),
            "not read by model 'convnext_tiny' (it reads: init_weights, pretrained, "
            "freeze_backbone, convnext_depths, convnext_dims, convnext_stem_patch, num_classes, "
            "img_size)");
}

TEST(ModelFamilies, SwitchNeedsASharedBlock) {
  ModelConfig m;
  m.name = "switch_moe_vit";
  m.depth = 3;
  m.expert_depth = 3;
  EXPECT_EQ(messages(*find_model_family("switch_moe_vit"), m),
            (std::vector<std::string>{"expert_depth: 3 leaves no shared block: switch_moe_vit "
                                      "needs model.expert_depth < model.depth (3)"}));
  m.expert_depth = 2;
  EXPECT_TRUE(messages(*find_model_family("switch_moe_vit"), m).empty());
}

// vit_moe's unrouted layer: 0 routed experts with top_k 0, and at least one shared expert.
TEST(ModelFamilies, ZeroRoutedExpertsGoWithTopKZeroAndASharedExpert) {
  const ModelFamily& vit_moe = *find_model_family("vit_moe");
  ModelConfig m;
  m.moe_num_unshared_experts = 0;
  m.moe_top_k = 0;
  m.moe_num_shared_experts = 2;
  EXPECT_TRUE(messages(vit_moe, m).empty());
  m.moe_num_shared_experts = 0;
  EXPECT_EQ(messages(vit_moe, m),
            (std::vector<std::string>{"moe_num_shared_experts: 0 routed experts: each MoE layer "
                                      "is the sum of its shared experts, and there are none; "
                                      "give at least 1"}));
  m.moe_num_shared_experts = 1;
  m.moe_num_unshared_experts = 2;
  EXPECT_EQ(messages(vit_moe, m),
            (std::vector<std::string>{"moe_top_k: 0 routed experts and moe_top_k 0 go together "
                                      "(each MoE layer then sums its shared experts); got "
                                      "moe_num_unshared_experts 2 and moe_top_k 0"}));
}

TEST(ModelFamilies, TopKIsBoundedByTheRoutedExperts) {
  ModelConfig m;
  m.moe_top_k = 3;
  m.moe_num_unshared_experts = 2;
  for (const char* name : {"vit_moe", "resnet18_conv_moe", "resnet18_block_moe"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(messages(*find_model_family(name), m),
              (std::vector<std::string>{"moe_top_k: 3 is out of range: must be <= "
                                        "model.moe_num_unshared_experts (2)"}));
  }
  // hetero_moe has one expert per hetero_experts entry (three by default).
  EXPECT_TRUE(messages(*find_model_family("hetero_moe"), m).empty());
  m.moe_top_k = 4;
  EXPECT_EQ(messages(*find_model_family("hetero_moe"), m),
            (std::vector<std::string>{"moe_top_k: 4 is out of range: must be <= the number of "
                                      "model.hetero_experts (3)"}));
  // The dense families and the top-1 families do not read moe_top_k.
  for (const char* name : {"vit", "resnet18", "convnext_tiny", "vit_moe_centroid",
                           "switch_moe_vit"}) {
    const ModelFamily& family = *find_model_family(name);
    EXPECT_TRUE(!family.check || messages(family, m).empty()) << name;
  }
}

}  // namespace
}  // namespace moedil::config
