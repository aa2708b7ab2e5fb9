#include "moedil/config/overrides.h"

#include <string>

#include "moedil/common/error.h"

namespace moedil::config {

void apply_override(nlohmann::json& j, std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  const std::string text(assignment);
  if (eq == std::string_view::npos || eq == 0) {
    throw UsageError("--set '" + text + "': expected KEY=VALUE, e.g. --set model.moe_top_k=2");
  }
  const std::string key(assignment.substr(0, eq));
  const std::string value_text(assignment.substr(eq + 1));
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(value_text);
  } catch (const nlohmann::json::parse_error&) {
    value = value_text;
  }
  nlohmann::json* node = &j;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
    if (part.empty()) throw UsageError("--set '" + text + "': empty key component");
    if (!node->is_object()) {
      throw UsageError("--set '" + text + "': '" + key.substr(0, start - 1) +
                       "' is not an object");
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
