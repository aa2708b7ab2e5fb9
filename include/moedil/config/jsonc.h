#pragma once
// JSONC: JSON with // and /* */ comments and trailing commas, as the predecessor's configs use.
#include <cstddef>
#include <optional>
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

/// Deepest nesting of objects and lists a config, a metaconfig or a --set value may have.
/// Configs use 3 levels; the bound keeps every reader and writer of the value (all of them
/// recurse) far from the stack's end.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// Parses JSONC. Throws ConfigError "<source>:<line>:<col>: ..." for
///   - bad syntax ("invalid JSON: syntax error ...", the token it read cut to a few bytes);
///   - nesting deeper than kMaxJsonDepth (with the JSON path of the container);
///   - a number literal beyond the range of a double, e.g. 1e999 (with its JSON path);
///   - a key given twice in one object (every such key with its JSON path and both lines: JSON
///     would silently keep the second and drop the first).
nlohmann::json parse_jsonc(std::string_view text, std::string_view source_name);

/// Plain JSON (no comments) with the checks of parse_jsonc, except that text with a syntax error
/// gives std::nullopt instead of an error, for callers that then take the text as a plain
/// string (`--set key=word`). The other problems (nesting, number range, duplicate keys) still
/// throw ConfigError.
std::optional<nlohmann::json> try_parse_json(std::string_view text, std::string_view source_name);

}  // namespace moedil::config
