#include "moedil/config/overrides.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil::config {
namespace {

TEST(Overrides, ParsesTypedJsonValues) {
  nlohmann::json j = {{"model", {{"name", "vit_moe"}}}};
  apply_override(j, "model.moe_top_k=2");
  apply_override(j, "shuffle=false");
  apply_override(j, "partition.angles=[0, 45]");
  apply_override(j, "optimizer.lr=0.01");
  EXPECT_TRUE(j["model"]["moe_top_k"].is_number_integer());
  EXPECT_EQ(j["model"]["moe_top_k"], 2);
  EXPECT_EQ(j["model"]["name"], "vit_moe");
  EXPECT_EQ(j["shuffle"], false);
  EXPECT_EQ(j["partition"]["angles"], nlohmann::json::array({0, 45}));
  EXPECT_DOUBLE_EQ(j["optimizer"]["lr"].get<double>(), 0.01);
}

TEST(Overrides, BareWordsAreStrings) {
  nlohmann::json j = nlohmann::json::object();
  apply_override(j, "model.name=vit");
  EXPECT_EQ(j["model"]["name"], "vit");
  apply_override(j, "device=\"cuda:1\"");
  EXPECT_EQ(j["device"], "cuda:1");
}

TEST(Overrides, MalformedAssignmentsAreUsageErrors) {
  nlohmann::json j = {{"a", 1}};
  EXPECT_THROW(apply_override(j, "noequals"), UsageError);
  EXPECT_THROW(apply_override(j, "=3"), UsageError);
  EXPECT_THROW(apply_override(j, "a..b=3"), UsageError);
  EXPECT_THROW(apply_override(j, "a.b=3"), UsageError);  // a is a number, not an object
}

}  // namespace
}  // namespace moedil::config
