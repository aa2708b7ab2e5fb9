#pragma once
// Which runs are the same experiment. Runs are grouped by their config's name together with
// their effective configuration: the resolved config run.json stores, without the keys that
// only say where and how a run is placed (its seeds, device, threads and output folders), so
// that the seed groups of one experiment pool into one group, while a `--set` or metaconfig
// override that changes the experiment makes a group of its own. Shared by `moedil report`
// and the summary of `moedil batch`, so both name a group the same way. Torch-free.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moedil::io {

/// Top-level keys of a resolved config that do not change the experiment: seeds (one
/// experiment, several seed groups), device, num_threads, results_dir, log_dir, dataset_root
/// and cache_dir (where the same data is read from), and notify (who is told when it ends).
/// Every other key, present or future, does.
const std::vector<std::string>& placement_keys();

/// The experiment's settings: the resolved config flattened to dotted keys
/// ("model.moe_top_k"; objects are walked, lists and scalars are leaves), placement keys left
/// out. Values are their compact JSON text, strings without quotes ("vit_moe", 2, 0.001,
/// [0,30], true), except a string that would read as another value ("2", "true", "", or one
/// starting with '('), which keeps its quotes: equal texts mean equal values. A config that is
/// not an object has no settings.
std::map<std::string, std::string> experiment_settings(const nlohmann::json& resolved_config);

/// One run to group: its config name (run.config_name, the config file's stem) and its
/// resolved config (run.config; null when unknown, e.g. a planned run whose config cannot be
/// read any more: such a run is in the group named by its config name alone).
struct GroupInput {
  std::string config_name;
  nlohmann::json config;
};

struct ExperimentGroups {
  /// Group names in order of first appearance: the config name alone when all of its runs
  /// share one effective configuration, else the config name with the keys that differ among
  /// its runs, e.g. "quickstart[model.moe_top_k=2]" or "a[optimizer.lr=0.01,replay.enabled=true]"
  /// (keys sorted). A key has several values when two runs that have it differ in it; a run
  /// whose config lacks the key (written before it existed) shows "(absent)" for it.
  std::vector<std::string> names;
  std::vector<std::size_t> group_of;  ///< per input run: index into names
  /// Every key that differs among the runs of some config name, sorted: the hyperparameters
  /// that tell the groups apart (columns of a runs table).
  std::vector<std::string> varied_keys;
  /// Per input run, its value of each varied key ("" where its config lacks the key).
  std::vector<std::vector<std::string>> varied_values;
};

/// Groups `runs` (see the file comment). Two runs are in one group exactly when they have the
/// same config name and the same value of every key that has several values among the runs
/// of that name (so runs with equal experiment_settings always share a group, and a key that
/// only some runs have, with one value throughout, never splits them).
ExperimentGroups group_experiments(const std::vector<GroupInput>& runs);

}  // namespace moedil::io
