#pragma once
// JSON <-> RunConfig. Reading validates everything at once: every problem is collected with its
// JSON path (and line, when the source text is known) and reported in one ConfigError.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/config/run_config.h"

namespace moedil::config {

/// Names registered in the torch-side registries, so config validation can check them without
/// depending on torch. An empty list is not checked.
struct NameCatalog {
  std::vector<std::string> datasets;
  std::vector<std::string> partitions;
  std::vector<std::string> models;
  std::vector<std::string> optimizers;
  std::vector<std::string> losses;
  std::vector<std::string> schedulers;
  std::vector<std::string> replay_policies;
  std::vector<std::string> balance_losses;  ///< model.moe_balance_losses keys
  std::vector<std::string> strategies;
};

/// One validation problem.
struct ConfigIssue {
  std::string path;  ///< dotted JSON path, e.g. "model.moe_top_k"
  std::size_t line = 0;  ///< 1-based line in the source, 0 when unknown (e.g. from --set)
  std::string message;
};

/// Resolves j (the whole config object) into a RunConfig with every default filled in.
/// `source_text` (the JSONC text, may be empty) is used to find the line of each problem and
/// `source_name` names it in messages. Throws ConfigError listing every problem.
RunConfig resolve_run_config(const nlohmann::json& j, const NameCatalog& catalog,
                             const std::string& source_text = "",
                             const std::string& source_name = "config");

/// Same as resolve_run_config but returns the problems instead of throwing (empty = valid).
std::vector<ConfigIssue> check_run_config(const nlohmann::json& j, const NameCatalog& catalog,
                                          const std::string& source_text, RunConfig& out);

/// The resolved config as JSON (every key, defaults included); resolving it again gives the
/// same RunConfig.
nlohmann::json to_json(const RunConfig& c);

/// A resolved config as stored in a run.json: without the model keys its family does not read.
/// Runs saved before each family owned its keys stored every model key; resolving those again
/// (resume, eval) needs them dropped. Anything else is returned unchanged.
nlohmann::json without_unread_model_keys(nlohmann::json stored);

/// 1-based line of the key at `path` (dotted) in JSONC text, 0 when it cannot be found.
std::size_t find_key_line(const std::string& text, const std::string& path);

}  // namespace moedil::config
