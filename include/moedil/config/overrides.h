#pragma once
// `--set a.b=value` overrides applied to the parsed config before validation.
#include <string_view>

#include <nlohmann/json.hpp>

namespace moedil::config {

/// Applies one "dotted.path=value" assignment to j. The value is parsed as JSON (so 8 is a
/// number, true a bool, [1,2] a list); a value that is not valid JSON is taken as a string
/// (`--set model.name=vit`). Intermediate objects are created as needed; an unknown key is
/// caught later by validation like any other. Throws UsageError on a malformed assignment.
void apply_override(nlohmann::json& j, std::string_view assignment);

}  // namespace moedil::config
