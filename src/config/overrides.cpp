#include "moedil/config/overrides.h"

#include <cstdio>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"
#include "moedil/config/jsonc.h"

namespace moedil::config {

void apply_override(nlohmann::json& j, std::string_view assignment) {
  const std::string shown = "--set '" + excerpt(assignment) + "'";
  if (const std::size_t bad = invalid_utf8_offset(assignment); bad != std::string_view::npos) {
    // A bare word is stored as a JSON string: it has to be text, or run.json cannot hold it.
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(assignment[bad]));
    throw UsageError(shown + ": not valid UTF-8 (byte " + byte + " at offset " +
                     std::to_string(bad) + "); keys and values must be UTF-8 text");
  }
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw UsageError(shown + ": expected KEY=VALUE, e.g. --set model.moe_top_k=2");
  }
  const std::string key(assignment.substr(0, eq));
  const std::string value_text(assignment.substr(eq + 1));
  nlohmann::json value;
  try {
    // Not JSON: a bare word, taken as a string.
    value = try_parse_json(value_text, "--set " + excerpt(key) + " value")
                .value_or(nlohmann::json(value_text));
  } catch (const ConfigError& e) {
    throw UsageError(e.what());
  }
  nlohmann::json* node = &j;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part.empty()) throw UsageError(shown + ": empty key component");
    if (!node->is_object()) {
      throw UsageError(shown + ": '" + excerpt(key.substr(0, start - 1)) + "' is not an object");
    }
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = nlohmann::json::object();
    start = dot + 1;
  }
}

}  // namespace moedil::config
