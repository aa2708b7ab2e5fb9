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

/// Message of the ConfigError parse_jsonc throws for text ("" and a failure when none).
std::string error_of(const std::string& text, const std::string& source = "c.jsonc") {
  try {
    parse_jsonc(text, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError for " << text.substr(0, 200);
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Jsonc, NestingDeeperThanTheBoundIsAnErrorWithItsPlace) {
  // 70,000 levels used to crash (SIGSEGV) whoever printed the value.
  const std::string deep = "{\n  \"model\": " + std::string(70'000, '[') +
                           std::string(70'000, ']') + "\n}";
  const std::string message = error_of(deep);
  EXPECT_TRUE(has(message, "c.jsonc:2:")) << message;
  EXPECT_TRUE(has(message, "is nested deeper than 64 levels")) << message;
  EXPECT_TRUE(has(message, "'model[0][0]")) << message;
  EXPECT_LT(message.size(), 600u) << message;
  // 64 levels are fine, 65 are not.
  EXPECT_NO_THROW(parse_jsonc(std::string(64, '[') + std::string(64, ']'), "t"));
  EXPECT_TRUE(has(error_of(std::string(65, '[') + std::string(65, ']')), "deeper than 64"));
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(parse_jsonc("{\"a\": \"" + std::string(100, '[') + "\"}", "t"));
}

TEST(Jsonc, DuplicateKeysNameTheKeyAndBothLines) {
  const std::string text =
      "{\n  \"model\": {\"name\": \"vit\"},\n  \"batch_size\": 4,\n  \"model\": {}\n}";
  const std::string message = error_of(text);
  EXPECT_TRUE(has(message, "c.jsonc: 1 key is given twice")) << message;
  EXPECT_TRUE(has(message, "line 4, model: duplicate key, first given at line 2")) << message;
  // Nested keys are named by their path; every duplicate is listed; escapes are decoded.
  const std::string nested =
      "{\"model\": {\"depth\": 2,\n \"depth\": 3},\n \"x\": [{\"a\": 1, \"\\u0061\": 2}]}";
  const std::string both = error_of(nested);
  EXPECT_TRUE(has(both, "2 keys are given twice")) << both;
  EXPECT_TRUE(has(both, "line 2, model.depth: duplicate key, first given at line 1")) << both;
  EXPECT_TRUE(has(both, "line 3, x[0].a: duplicate key, first given at line 3")) << both;
  // The same key in different objects is fine.
  EXPECT_NO_THROW(parse_jsonc("{\"a\": {\"n\": 1}, \"b\": {\"n\": 1}, \"c\": [{\"n\": 1}, {\"n\": 2}]}", "t"));
}

TEST(Jsonc, NumberOutOfRangeNamesLineAndKey) {
  const std::string message =
      error_of("{\n  \"optimizer\": {\n    \"lr\": 1e999\n  }\n}", "cfg.jsonc");
  EXPECT_TRUE(has(message, "cfg.jsonc:3:11: 'optimizer.lr': the number 1e999 is out of range"))
      << message;
  EXPECT_TRUE(has(error_of("{\"a\": [1, -2e400]}"), "'a[1]': the number -2e400")) << "";
  // Underflow is not an error (the value is 0), nor are large but finite numbers.
  EXPECT_NO_THROW(parse_jsonc("{\"a\": 1e-999, \"b\": 1e308}", "t"));
}

TEST(Jsonc, SyntaxErrorsEchoOnlyAFewBytesOfTheToken) {
  const std::string text = "{\"" + std::string(1'000'000, 'k') + " 1}";
  const std::string message = error_of(text);
  EXPECT_TRUE(has(message, "c.jsonc:1:")) << message.substr(0, 300);
  EXPECT_LT(message.size(), 1000u) << message.substr(0, 1000);
  // A string that is not UTF-8 is a syntax error with its line; the byte is shown escaped.
  const std::string bad = error_of("{\n\"a\": \"x\xff\"}");
  EXPECT_TRUE(has(bad, "c.jsonc:2:")) << bad;
  EXPECT_TRUE(has(bad, "\\xFF")) << bad;
}

TEST(Jsonc, TryParseJsonGivesNulloptForNonJsonAndThrowsForTheRest) {
  EXPECT_FALSE(try_parse_json("vit", "v").has_value());
  EXPECT_FALSE(try_parse_json("out/*", "v").has_value());
  EXPECT_EQ(*try_parse_json("[1, 2]", "v"), nlohmann::json::array({1, 2}));
  EXPECT_THROW(try_parse_json(std::string(100, '[') + std::string(100, ']'), "v"), ConfigError);
  EXPECT_THROW(try_parse_json("1e999", "v"), ConfigError);
  EXPECT_THROW(try_parse_json("{\"a\": 1, \"a\": 2}", "v"), ConfigError);
}

}  // namespace
}  // namespace moedil::config
