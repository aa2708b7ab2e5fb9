#pragma once
// What a report says about each run and each config: the per-run metrics and the population
// statistics over a config's completed runs (one run = one seed group).
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "moedil/io/run_record.h"
#include "moedil/metrics/cl_metrics.h"
#include "moedil/metrics/predecessor_metrics.h"
#include "moedil/report/stats.h"

namespace moedil::report {

/// The per-run metrics of the report, in table order: moedil's (the first
/// kMoedilMetricCount), then the predecessor's variants of three of them
/// (metrics::predecessor_metrics), which the tables show only when asked.
inline constexpr std::array<const char*, 12> kMetricNames = {
    "ACC",          "AIA",
    "BWT",          "FWT",
    "FWT_baseline", "forgetting",
    "plasticity",   "intransience",
    "balanced_acc", "AIA_predecessor",
    "FWT_predecessor", "intransigence_predecessor"};
inline constexpr std::size_t kMoedilMetricCount = 9;
/// How many of kMetricNames the tables show.
inline constexpr std::size_t shown_metric_count(bool predecessor_metrics) {
  return predecessor_metrics ? kMetricNames.size() : kMoedilMetricCount;
}

struct RunSummary {
  std::string id;
  std::string config_name;
  /// Its experiment group (LoadedRun::group); summarize_run sets the config name, the report
  /// the group collect_runs found.
  std::string group;
  std::vector<std::string> varied;  ///< its values of the varied keys (LoadedRun::varied)
  std::string path;  ///< the run.json
  std::string status;
  std::string error;
  std::string seed;  ///< seeds.global as text ("" when absent)
  std::vector<std::string> domains;
  int64_t domains_trained = 0;  ///< rows of the R-matrix
  int64_t epochs_done = 0;
  std::optional<metrics::ClMetrics> cl;  ///< run.json's metrics, else computed from a full R
  /// The predecessor's variants, computed from a full R (and the baselines when they ran).
  std::optional<metrics::PredecessorMetrics> predecessor;
  /// Mean over domains of each domain's balanced accuracy (mean recall over the classes with
  /// true samples) in the last evaluation; nullopt when there is no evaluation.
  std::optional<double> balanced_acc;
  std::vector<double> final_domain_acc;           ///< last evaluation, one per domain
  std::vector<double> final_domain_balanced_acc;  ///< last evaluation, one per domain
  /// The metrics in kMetricNames order (nullopt where undefined).
  std::array<std::optional<double>, kMetricNames.size()> values() const;
  bool completed() const { return status == "completed"; }
};

/// One experiment group (the "configs" of the report's tables).
struct ConfigSummary {
  std::string name;  ///< the group's name
  std::vector<std::string> domains;  ///< of its first completed run
  int completed = 0;                 ///< runs in the statistics
  int not_completed = 0;             ///< running, failed or interrupted: listed, not counted
  std::array<std::optional<PopulationStats>, kMetricNames.size()> metrics;
  std::vector<std::optional<PopulationStats>> final_domain_acc;  ///< per domain
};

/// Throws DataError naming `path` when the record is inconsistent (a confusion matrix that is
/// not square).
RunSummary summarize_run(const io::RunRecord& record, const std::string& path);

/// One summary per group name in `configs` (in that order), of the runs whose `group` it is;
/// only completed runs enter statistics.
std::vector<ConfigSummary> summarize_configs(const std::vector<RunSummary>& runs,
                                             const std::vector<std::string>& configs);

}  // namespace moedil::report
