#include "moedil/config/jsonc.h"

#include "moedil/common/error.h"

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

nlohmann::json parse_jsonc(std::string_view text, std::string_view source_name) {
  const std::string stripped = strip_jsonc(text);
  try {
    return nlohmann::json::parse(stripped);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    const TextPosition p = position_of(stripped, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    const auto cut = what.find("syntax error");
    if (cut != std::string::npos) what = what.substr(cut);
    throw ConfigError(std::string(source_name) + ":" + std::to_string(p.line) + ":" +
                      std::to_string(p.column) + ": invalid JSON: " + what);
  }
}

}  // namespace moedil::config
