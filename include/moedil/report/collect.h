#pragma once
// Finds and reads the runs a `moedil report TARGET` covers. TARGET is a run.json, a run
// directory, a directory holding run directories at any depth (a config's results dir, or a
// whole results/ dir), or a metaconfig (the runs `moedil batch` plans for it, found by their
// keys; those not started yet are listed with status "not started").
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/io/run_record.h"

namespace moedil::report {

enum class TargetKind { RunFile, Directory, Metaconfig };

/// Status of a run a metaconfig plans that has no run.json yet (listed, never in statistics).
inline constexpr const char* kNotStarted = "not started";

struct LoadedRun {
  std::filesystem::path path;  ///< the run.json
  io::RunRecord record;  ///< for a run not started: its key, config name and planned config
  /// Its experiment group (io::group_experiments): "quickstart" or
  /// "quickstart[model.moe_top_k=2]".
  std::string group;
  std::vector<std::string> varied;  ///< its value of each of Collection::varied_keys
};

struct Collection {
  TargetKind kind = TargetKind::Directory;
  std::string title;  ///< what the report is about, e.g. "metaconfig m.jsonc"
  /// Experiment groups in display order (the order of first appearance, which for a
  /// metaconfig is its order): runs of one config name with one effective configuration (the
  /// resolved config without seeds and placement keys) are one group; see
  /// io/experiment_group.h for the names.
  std::vector<std::string> configs;
  /// The config keys that tell groups of one config name apart (runs.csv columns).
  std::vector<std::string> varied_keys;
  std::vector<LoadedRun> runs;        ///< every readable run, whatever its status
  std::vector<std::string> problems;  ///< unreadable run.json files, configs without runs; each
                                      ///< names its file or directory
  /// Where the report goes without --out: <run dir>/report for a run, <dir>/report for a
  /// directory, <results_dir>/report-<metaconfig stem> for a metaconfig.
  std::filesystem::path default_out;
};

/// Reads every run of `target` and groups them. A run.json that cannot be read (missing field,
/// truncated, unknown schema version, a symlink loop, not a regular file) becomes a problem
/// naming it and the others are still read; directory walks never follow directory links.
/// Throws UsageError when `target` does not exist, ConfigError for a metaconfig that cannot be
/// parsed, and DataError (naming the target and every problem) when no run at all could be
/// read.
Collection collect_runs(const std::filesystem::path& target);

}  // namespace moedil::report
