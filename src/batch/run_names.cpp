#include "moedil/batch/run_names.h"

#include <map>
#include <utility>

#include "moedil/config/load.h"
#include "moedil/io/experiment_group.h"

namespace moedil::batch {

nlohmann::json planned_config(const PlannedRun& run) {
  try {
    // The registries' names are not needed to resolve defaults (an empty catalog checks none).
    return config::to_json(config::load_run_config(run.config_path, run.overrides, {}));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::vector<std::string> planned_group_names(const std::vector<PlannedRun>& plan) {
  std::map<std::pair<std::string, std::vector<std::string>>, nlohmann::json> resolved;
  std::vector<io::GroupInput> inputs;
  for (const PlannedRun& run : plan) {
    const auto key = std::make_pair(run.config_path, run.overrides);
    auto it = resolved.find(key);
    if (it == resolved.end()) it = resolved.emplace(key, planned_config(run)).first;
    inputs.push_back({run.config_stem, it->second});
  }
  const io::ExperimentGroups groups = io::group_experiments(inputs);
  std::vector<std::string> names;
  for (std::size_t g : groups.group_of) names.push_back(groups.names[g]);
  return names;
}

}  // namespace moedil::batch
