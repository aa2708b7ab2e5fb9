#pragma once
// The names `moedil batch` shows for its runs: the experiment group of each planned run
// (io::group_experiments over the planned runs' resolved configs), the same names
// `moedil report` gives the groups of the metaconfig's runs.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/batch/metaconfig.h"

namespace moedil::batch {

/// The resolved config of a planned run: its config file with the run's overrides, every
/// default filled in (as run.json stores it, seeds aside); null when the file cannot be read
/// or is not valid any more.
nlohmann::json planned_config(const PlannedRun& run);

/// The experiment group name of every planned run, in plan order (each config file is
/// resolved once per distinct list of overrides).
std::vector<std::string> planned_group_names(const std::vector<PlannedRun>& plan);

}  // namespace moedil::batch
