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

namespace moedil::config {
namespace {

std::string usage_error_of(nlohmann::json& j, const std::string& assignment) {
  try {
    apply_override(j, assignment);
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected UsageError";
  return "";
}

TEST(Overrides, NonUtf8IsAUsageErrorNamingTheOption) {
  nlohmann::json j = nlohmann::json::object();
  // A bare word used to become a string that run.json could not be written with (exit 1).
  const std::string message = usage_error_of(j, "results_dir=out\xff");
  EXPECT_NE(message.find("--set 'results_dir=out\\xFF'"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid UTF-8 (byte 0xFF at offset 15)"), std::string::npos)
      << message;
  EXPECT_NE(usage_error_of(j, "mod\xc3l.name=vit").find("not valid UTF-8"), std::string::npos);
  EXPECT_TRUE(j.empty());
  apply_override(j, "results_dir=r\xc3\xa9sultats");  // valid UTF-8 (é) is fine
  EXPECT_EQ(j["results_dir"], "r\xc3\xa9sultats");
}

TEST(Overrides, DeepNumberAndDuplicateValuesAreUsageErrors) {
  nlohmann::json j = nlohmann::json::object();
  const std::string deep = usage_error_of(j, "model.x=" + std::string(70'000, '[') +
                                                 std::string(70'000, ']'));
  EXPECT_NE(deep.find("--set model.x value:1:65: '[0][0]"), std::string::npos)
      << deep;
  EXPECT_NE(deep.find("nested deeper than 64 levels"), std::string::npos) << deep;
  const std::string big = usage_error_of(j, "optimizer.lr=1e999");
  EXPECT_NE(big.find("the number 1e999 is out of range"), std::string::npos) << big;
  const std::string twice = usage_error_of(j, R"(model={"depth": 2, "depth": 3})");
  EXPECT_NE(twice.find("depth: duplicate key"), std::string::npos) << twice;
}

TEST(Overrides, LongAssignmentsAreEchoedShort) {
  nlohmann::json j = nlohmann::json::object();
  const std::string message = usage_error_of(j, std::string(10'000'000, 'k'));
  EXPECT_LT(message.size(), 400u);
  EXPECT_NE(message.find("(10000000 bytes)"), std::string::npos) << message;
}

}  // namespace
}  // namespace moedil::config
