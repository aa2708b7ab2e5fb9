#pragma once
// A metaconfig lists configs and seed groups; a batch runs every (config, seed group) pair.
// Torch-free: parsing, validation and expansion into planned runs with stable keys.
//
//   {
//     "configs": ["configs/a.jsonc",
//                 {"path": "configs/b.jsonc", "overrides": {"model.moe_top_k": 2}}],
//     "seeds": {"global": [1, 2, 3], "loader": [0, "random", 7]},  // equal lengths
//     "unlisted_seeds": "unseeded",            // or "config"; see Metaconfig
//     "overrides": ["epochs_per_domain=2"],   // every config; before the per-config ones
//     "grid": {"model.moe_top_k": [1, 2], "optimizer.lr": [0.001, 0.01]},  // every config x
//                                             // every combination (4 here), after "overrides"
//     "results_dir": "results/sweep",          // default: each config's results_dir
//     "log_dir": "logs",                       // batch log, console output, Slurm files
//     "notify": {"webhook_url": "https://discord.com/api/webhooks/...",
//                "on": ["completed", "failed", "interrupted"]}   // one message per batch
//   }
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/config/run_config.h"

namespace moedil::batch {

/// The seed kinds a metaconfig may list, in the order of config `seeds`.
const std::vector<std::string>& seed_kinds();

/// One seed in a group: a fixed value, or nullopt for "unseeded" (0, "random" or null in the
/// metaconfig), which is drawn once when the run is first started.
using SeedValue = std::optional<int64_t>;

struct ConfigEntry {
  std::string path;                    ///< as written in the metaconfig (relative to the cwd)
  std::vector<std::string> overrides;  ///< "a.b=value", the metaconfig's global ones first
  /// Where this config's runs go when the metaconfig sets no results_dir (the config's own
  /// results_dir; filled in by the caller after loading the config, "results" until then).
  std::string results_dir = "results";
};

/// A webhook told when a batch ends (io/webhook.h), with one summary message; `on` lists the
/// batch outcomes that send one: completed (every run completed), failed (any failed),
/// interrupted (Ctrl-C or SIGTERM). The config's own type (config/run_config.h).
using NotifyConfig = config::NotifyConfig;

struct Metaconfig {
  std::string source;  ///< the metaconfig file, as given
  std::string name;    ///< its stem, used for the batch log and Slurm file names
  std::vector<ConfigEntry> configs;
  /// kind -> one value per seed group, in seed_kinds() order; every list has num_groups values.
  std::vector<std::pair<std::string, std::vector<SeedValue>>> seeds;
  std::size_t num_groups = 1;  ///< 1 when no seeds are listed (each config runs once)
  /// The kinds a metaconfig with seed lists does not list: "unseeded" (the predecessor's
  /// meaning: its runs replaced the config's seeds) makes global a fresh draw and every other
  /// kind follow global; "config" leaves them as the config sets them.
  std::string unlisted_seeds = "unseeded";
  std::optional<std::string> results_dir;
  std::string log_dir = "logs";
  NotifyConfig notify;
};

/// One (config, seed group) pair of a batch.
struct PlannedRun {
  std::size_t index = 0;  ///< position in the plan (configs outer, seed groups inner)
  /// Stable key: "<config stem>-g<group>-<8 hex>", the hex a hash of the config path as
  /// written, the group's seed values as written and the overrides. It is also the name of the
  /// run directory, so a second batch finds the runs of the first.
  std::string key;
  std::string config_path;
  std::string config_stem;  ///< the config file's stem
  std::size_t group = 0;
  std::vector<std::pair<std::string, SeedValue>> seeds;  ///< kind -> value for this group
  /// Kinds set to null (unseeded: they take the run's global seed), by unlisted_seeds.
  std::vector<std::string> follow_global;
  std::vector<std::string> overrides;
  std::filesystem::path run_dir;  ///< <results_dir>/<config stem>/<key>
};

/// Parses a metaconfig document. Every problem (unknown key with a suggestion, wrong type,
/// seed lists of different lengths, bad seed value, no configs) is appended to `problems`
/// as one line; the result is meaningful only when no problem was added.
Metaconfig parse_metaconfig(const nlohmann::json& j, const std::string& source,
                            std::vector<std::string>& problems);

/// Checks one listed config (called only for files that exist): appends its problems and may
/// fill in entry.results_dir. The CLI loads and validates the config with its overrides here.
using ConfigCheck = std::function<void(ConfigEntry& entry, std::vector<std::string>& problems)>;

/// Where a config path of a metaconfig may be, in the order tried (the predecessor's rule): as
/// written (relative to the current directory), then under `configs_dir` (relative paths
/// only); a path without an extension is tried as written, with .jsonc and with .json.
std::vector<std::string> config_candidates(const std::string& written,
                                           const std::filesystem::path& configs_dir);

/// Reads and parses a metaconfig file (JSONC), finds every listed config file
/// (config_candidates; entry.path becomes the file found) and runs `check` on each. Throws
/// ConfigError listing every problem, before anything has started.
Metaconfig load_metaconfig(const std::filesystem::path& path, const ConfigCheck& check = {},
                           const std::filesystem::path& configs_dir = "configs");

/// Expands a metaconfig into planned runs: every config x every seed group, in that order.
std::vector<PlannedRun> expand(const Metaconfig& meta);

/// The `--set` assignments that give a planned run its seeds: "seeds.<kind>=<value>", with
/// unseeded kinds filled by `draw()` (called once per unseeded kind), then
/// "seeds.<kind>=null" for each kind of follow_global.
std::vector<std::string> seed_overrides(const PlannedRun& run,
                                        const std::function<int64_t()>& draw);

/// A fresh seed in [1, 2^31 - 1] from std::random_device.
int64_t draw_seed();

/// A file name part made safe for shells and #SBATCH lines: characters other than
/// [A-Za-z0-9._-] become '_'; never empty.
std::string safe_name(std::string_view s);

/// 64-bit FNV-1a: a hash that is the same on every platform and in every build.
uint64_t fnv1a64(std::string_view s);

}  // namespace moedil::batch
