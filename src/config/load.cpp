#include "moedil/config/load.h"

#include <fstream>
#include <sstream>

#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/overrides.h"

namespace moedil::config {

RunConfig load_run_config(const std::filesystem::path& path,
                          const std::vector<std::string>& overrides, const NameCatalog& catalog) {
  const std::string name = excerpt(path.string(), 400);
  if (invalid_utf8_offset(path.string()) != std::string_view::npos) {
    // The file's name becomes the config name in run ids, run.json and reports, all text.
    throw ConfigError("config file name '" + name +
                      "' is not valid UTF-8: rename the file (its name is stored as text in "
                      "run.json and the reports)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("config file '" + name + "' does not exist or cannot be read" +
                      " (see configs/ for examples: configs/quickstart.jsonc)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  nlohmann::json j = parse_jsonc(text, name);
  if (!j.is_object()) {
    throw ConfigError(name + ": the config must be a JSON object { ... }");
  }
  for (const auto& assignment : overrides) apply_override(j, assignment);
  RunConfig c = resolve_run_config(j, catalog, strip_jsonc(text), name);
  c.config_name = path.stem().string();
  return c;
}

}  // namespace moedil::config
