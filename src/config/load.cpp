#include "moedil/config/load.h"

#include <fstream>
#include <sstream>

#include "moedil/common/error.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/overrides.h"

namespace moedil::config {

RunConfig load_run_config(const std::filesystem::path& path,
                          const std::vector<std::string>& overrides, const NameCatalog& catalog) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("config file '" + path.string() + "' does not exist or cannot be read" +
                      " (see configs/ for examples: configs/quickstart.jsonc)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  nlohmann::json j = parse_jsonc(text, path.string());
  if (!j.is_object()) {
    throw ConfigError(path.string() + ": the config must be a JSON object { ... }");
  }
  for (const auto& assignment : overrides) apply_override(j, assignment);
  RunConfig c = resolve_run_config(j, catalog, strip_jsonc(text), path.string());
  c.config_name = path.stem().string();
  return c;
}

}  // namespace moedil::config
