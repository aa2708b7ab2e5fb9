#include "moedil/config/jsonc.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil::config {
namespace {

TEST(Jsonc, StripsLineAndBlockCommentsKeepingOffsets) {
  const std::string text = "{ // note\n  \"a\": 1, /* x\n y */ \"b\": \"//not a comment\"\n}";
  const std::string stripped = strip_jsonc(text);
  ASSERT_EQ(stripped.size(), text.size());
  EXPECT_EQ(std::count(stripped.begin(), stripped.end(), '\n'), 3);
  const auto j = nlohmann::json::parse(stripped);
  EXPECT_EQ(j["a"], 1);
  EXPECT_EQ(j["b"], "//not a comment");
}

TEST(Jsonc, RemovesTrailingCommas) {
  const auto j = parse_jsonc("{\"a\": [1, 2, ], \"b\": {\"c\": 3, },\n}", "t");
  EXPECT_EQ(j["a"].size(), 2u);
  EXPECT_EQ(j["b"]["c"], 3);
}

TEST(Jsonc, KeepsCommasAndSlashesInsideStrings) {
  const auto j = parse_jsonc("{\"a\": \"x,]\", \"b\": \"q\\\"/*\"}", "t");
  EXPECT_EQ(j["a"], "x,]");
  EXPECT_EQ(j["b"], "q\"/*");
}

TEST(Jsonc, InvalidJsonNamesLineAndColumn) {
  try {
    parse_jsonc("{\n  \"a\": 1,\n  \"b\" 2\n}", "cfg.jsonc");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.jsonc:3:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("invalid JSON"), std::string::npos) << e.what();
  }
}

TEST(Jsonc, UnterminatedBlockCommentIsAnError) {
  EXPECT_THROW(strip_jsonc("{ /* open"), ConfigError);
}

TEST(Jsonc, PositionOfCountsLinesAndColumns) {
  const TextPosition p = position_of("ab\ncd\nef", 4);
  EXPECT_EQ(p.line, 2u);
  EXPECT_EQ(p.column, 2u);
}

}  // namespace
}  // namespace moedil::config
