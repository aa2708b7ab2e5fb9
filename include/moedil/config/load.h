#pragma once
// Reading a config file: JSONC text -> json -> overrides -> validation -> RunConfig.
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/config/resolve.h"
#include "moedil/config/run_config.h"

namespace moedil::config {

/// Loads and validates a config file. `overrides` are "a.b=value" assignments applied in order
/// after parsing. config_name is set to the file's stem. Throws ConfigError (missing file,
/// invalid JSON with line and column, or every validation problem at once).
RunConfig load_run_config(const std::filesystem::path& path,
                          const std::vector<std::string>& overrides, const NameCatalog& catalog);

}  // namespace moedil::config
