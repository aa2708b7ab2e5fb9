#pragma once
// JSONC: JSON with // and /* */ comments and trailing commas, as the predecessor's configs use.
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace moedil::config {

/// Replaces comments and trailing commas with spaces. Newlines and every other character keep
/// their offsets, so line and column numbers in the result are those of the original text.
/// Throws ConfigError on an unterminated /* comment.
std::string strip_jsonc(std::string_view text);

/// 1-based line and column of a byte offset in text.
struct TextPosition {
  std::size_t line = 0;
  std::size_t column = 0;
};
TextPosition position_of(std::string_view text, std::size_t offset);

/// Parses JSONC. Throws ConfigError "<source>:<line>:<col>: invalid JSON: ..." on bad syntax.
nlohmann::json parse_jsonc(std::string_view text, std::string_view source_name);

}  // namespace moedil::config
