#pragma once
// `moedil status`: one row per run found below a results directory, read from its run.json
// and its run lock: where the run is (domain, epoch), how long it ran, when it should end, its
// last accuracy and, for failed runs, the error.
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace moedil::batch {

struct StatusRow {
  std::filesystem::path dir;  ///< the run directory
  std::string run;            ///< its name (the batch key or the run id)
  std::string config;         ///< run.config_name
  std::string group;          ///< "g<index>" for batch runs ("<stem>-g<i>-<hash>"), else "-"
  /// completed | failed | interrupted | running (a live process holds the lock) |
  /// killed (run.json says running but nobody holds the lock) | unreadable
  std::string status;
  int64_t domain = 0;          ///< domains begun (1-based; 0 before the first epoch)
  int64_t num_domains = 0;
  int64_t epoch = 0;           ///< epochs done in the current domain
  int64_t epochs_per_domain = 0;
  double elapsed_seconds = -1.0;       ///< started..finished, or started..now while running
  std::optional<double> eta_seconds;   ///< running only: mean epoch time x epochs left
  std::optional<double> acc;           ///< mean accuracy over domains after the last epoch
  std::string error;
};

/// Every run.json below `root` (hidden directories such as .failed are skipped), one row each,
/// sorted by path. A run.json that cannot be read gives a row with status "unreadable".
/// `now` is the clock used for elapsed time of running runs (a parameter for tests).
std::vector<StatusRow> collect_status(const std::filesystem::path& root,
                                      std::chrono::system_clock::time_point now =
                                          std::chrono::system_clock::now());

/// The table: RUN CONFIG GROUP STATUS DOMAIN EPOCH ELAPSED ETA ACC ERROR, then a count line.
std::string format_status(const std::vector<StatusRow>& rows);

/// Seconds since the epoch of an ISO 8601 UTC time "YYYY-mm-ddTHH:MM:SSZ"; nullopt if malformed.
std::optional<double> parse_utc_iso(const std::string& text);

}  // namespace moedil::batch
