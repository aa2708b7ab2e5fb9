#include "moedil/config/jsonc.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"

namespace moedil::config {

std::string strip_jsonc(std::string_view text) {
  std::string out(text);
  const std::size_t n = out.size();
  std::size_t last_comma = std::string::npos;  // a comma that may turn out to be trailing
  bool in_string = false;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = out[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '/' && i + 1 < n && out[i + 1] == '/') {
      while (i < n && out[i] != '\n') out[i++] = ' ';
      continue;
    }
    if (c == '/' && i + 1 < n && out[i + 1] == '*') {
      const std::size_t start = i;
      out[i++] = ' ';
      out[i++] = ' ';
      while (i < n && !(out[i] == '*' && i + 1 < n && out[i + 1] == '/')) {
        if (out[i] != '\n') out[i] = ' ';
        ++i;
      }
      if (i >= n) {
        const TextPosition p = position_of(text, start);
        throw ConfigError("unterminated /* comment starting at line " + std::to_string(p.line) +
                          ", column " + std::to_string(p.column));
      }
      out[i++] = ' ';
      out[i] = ' ';
      continue;
    }
    if (c == '"') {
      in_string = true;
      last_comma = std::string::npos;
    } else if (c == ',') {
      last_comma = i;
    } else if (c == '}' || c == ']') {
      if (last_comma != std::string::npos) out[last_comma] = ' ';
      last_comma = std::string::npos;
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      last_comma = std::string::npos;
    }
  }
  return out;
}

TextPosition position_of(std::string_view text, std::size_t offset) {
  TextPosition p{1, 1};
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

namespace {

/// What a structural scan of JSON text found, before (and besides) nlohmann's parse: the
/// first container nested too deep, the first number literal beyond a double's range and every
/// key given twice in one object. Works without recursion and on any text (valid JSON or not).
struct ScanFindings {
  struct Place {
    std::size_t offset = 0;
    std::string path;  ///< JSON path, "" for the whole value
  };
  std::optional<Place> too_deep;
  std::optional<Place> number_out_of_range;
  std::string number_text;
  struct Duplicate {
    std::string path;
    std::size_t first_offset = 0;
    std::size_t second_offset = 0;
  };
  std::vector<Duplicate> duplicates;
};

/// The key a JSON string literal (quotes included) stands for, escapes decoded; the raw text
/// when it is not a valid string literal (the parse then reports it).
std::string decoded_key(std::string_view literal) {
  try {
    const nlohmann::json j = nlohmann::json::parse(literal);
    if (j.is_string()) return j.get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  return std::string(literal);
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

ScanFindings scan_json_text(std::string_view text) {
  struct Frame {
    bool object = false;
    std::string path;          // of this container
    std::size_t index = 0;     // array: the current element
    std::string key;           // object: the current key
    bool expect_key = false;   // object: the next string is a key
    std::unordered_map<std::string, std::size_t> keys;  // object: key -> offset of its first
  };
  ScanFindings found;
  std::vector<Frame> stack;
  // JSON path of the value that starts at the current position.
  const auto value_path = [&]() -> std::string {
    if (stack.empty()) return "";
    const Frame& f = stack.back();
    if (f.object) return join_path(f.path, f.key);
    return f.path + "[" + std::to_string(f.index) + "]";
  };
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '"') {
      const std::size_t start = i;
      for (++i; i < n && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      if (!stack.empty() && stack.back().object && stack.back().expect_key) {
        Frame& f = stack.back();
        f.key = decoded_key(text.substr(start, i + 1 - start));
        f.expect_key = false;
        const auto [first, inserted] = f.keys.emplace(f.key, start);
        if (!inserted) found.duplicates.push_back({join_path(f.path, f.key), first->second, start});
      }
    } else if (c == '{' || c == '[') {
      if (stack.size() + 1 > kMaxJsonDepth) {
        found.too_deep = ScanFindings::Place{i, value_path()};
        return found;
      }
      Frame f;
      f.object = c == '{';
      f.expect_key = f.object;
      f.path = value_path();
      stack.push_back(std::move(f));
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',') {
      if (!stack.empty()) {
        if (stack.back().object) {
          stack.back().expect_key = true;
        } else {
          ++stack.back().index;
        }
      }
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i;
      while (i + 1 < n && (std::isdigit(static_cast<unsigned char>(text[i + 1])) ||
                           text[i + 1] == '.' || text[i + 1] == 'e' || text[i + 1] == 'E' ||
                           text[i + 1] == '+' || text[i + 1] == '-')) {
        ++i;
      }
      if (!found.number_out_of_range) {
        const std::string literal(text.substr(start, i + 1 - start));
        errno = 0;
        const double value = std::strtod(literal.c_str(), nullptr);
        if (errno == ERANGE && std::isinf(value)) {
          found.number_out_of_range = ScanFindings::Place{start, value_path()};
          found.number_text = literal;
        }
      }
    }
  }
  return found;
}

std::string where(std::string_view text, std::string_view source_name, std::size_t offset) {
  const TextPosition p = position_of(text, offset);
  return std::string(source_name) + ":" + std::to_string(p.line) + ":" +
         std::to_string(p.column);
}

std::string path_text(const std::string& path) {
  return path.empty() ? "the top-level value" : "'" + excerpt(path, 120) + "'";
}

/// nlohmann's parse error text from "syntax error" on, with the token it read cut short.
std::string syntax_message(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  const auto cut = what.find("syntax error");
  if (cut != std::string::npos) what = what.substr(cut);
  const std::string marker = "last read: '";
  const auto token_start = what.find(marker);
  if (token_start == std::string::npos) return excerpt(what, 400);
  const std::size_t from = token_start + marker.size();
  const auto token_end = what.rfind('\'');
  const std::size_t to = token_end != std::string::npos && token_end >= from ? token_end : what.size();
  return excerpt(what.substr(0, from), 400) + excerpt(what.substr(from, to - from), 40) +
         excerpt(what.substr(to), 400);
}

/// Parses JSON (`stripped`: comments and trailing commas already blanked); nullopt on a
/// syntax error when `syntax_is_error` is false.
std::optional<nlohmann::json> parse_checked(std::string_view stripped,
                                            std::string_view source_name, bool syntax_is_error) {
  const ScanFindings found = scan_json_text(stripped);
  if (found.too_deep) {
    throw ConfigError(where(stripped, source_name, found.too_deep->offset) + ": " +
                      path_text(found.too_deep->path) + " is nested deeper than " +
                      std::to_string(kMaxJsonDepth) +
                      " levels of objects and lists");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(stripped);
  } catch (const nlohmann::json::parse_error& e) {
    if (!syntax_is_error) return std::nullopt;
    // e.byte is 1-based and points just past the offending character.
    throw ConfigError(where(stripped, source_name, e.byte > 0 ? e.byte - 1 : 0) +
                      ": invalid JSON: " + syntax_message(e));
  } catch (const nlohmann::json::out_of_range& e) {
    if (found.number_out_of_range) {
      throw ConfigError(where(stripped, source_name, found.number_out_of_range->offset) + ": " +
                        path_text(found.number_out_of_range->path) + ": the number " +
                        excerpt(found.number_text, 40) +
                        " is out of range (beyond the largest double, about 1.8e308)");
    }
    throw ConfigError(std::string(source_name) + ": invalid JSON: " + excerpt(e.what(), 200));
  }
  if (!found.duplicates.empty()) {
    std::string message = std::string(source_name) + ": " +
                          std::to_string(found.duplicates.size()) + " key" +
                          (found.duplicates.size() == 1 ? " is" : "s are") +
                          " given twice (JSON keeps only the second; remove one):";
    constexpr std::size_t kShown = 20;
    for (std::size_t k = 0; k < found.duplicates.size() && k < kShown; ++k) {
      const auto& d = found.duplicates[k];
      message += "\n  line " + std::to_string(position_of(stripped, d.second_offset).line) +
                 ", " + excerpt(d.path, 120) + ": duplicate key, first given at line " +
                 std::to_string(position_of(stripped, d.first_offset).line);
    }
    if (found.duplicates.size() > kShown) {
      message += "\n  ... and " + std::to_string(found.duplicates.size() - kShown) + " more";
    }
    throw ConfigError(message);
  }
  return j;
}

}  // namespace

nlohmann::json parse_jsonc(std::string_view text, std::string_view source_name) {
  return *parse_checked(strip_jsonc(text), source_name, /*syntax_is_error=*/true);
}

std::optional<nlohmann::json> try_parse_json(std::string_view text,
                                             std::string_view source_name) {
  return parse_checked(text, source_name, /*syntax_is_error=*/false);
}

}  // namespace moedil::config
