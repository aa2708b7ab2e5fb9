#pragma once
// The report's tables, built from run and config summaries and from run records.
#include <string>
#include <vector>

#include "moedil/io/run_record.h"
#include "moedil/report/summary.h"
#include "moedil/report/table.h"

namespace moedil::report {

/// Completed runs: config (the experiment group), run, seed, the value of each of
/// `varied_keys` (the hyperparameters that tell groups apart) and moedil's metrics of
/// kMetricNames, and the predecessor's variants after them when `predecessor_metrics`.
Table runs_table(const std::vector<RunSummary>& runs,
                 const std::vector<std::string>& varied_keys = {},
                 bool predecessor_metrics = false);
/// Runs not completed (running, failed, interrupted) with status, progress and error; these
/// are never in the statistics.
Table status_table(const std::vector<RunSummary>& runs);
/// Long form: config, metric, n, mean, std, ci95_low, ci95_high (std and CI n/a when n = 1).
/// The metrics as in runs_table.
Table config_stats_table(const std::vector<ConfigSummary>& configs,
                         bool predecessor_metrics = false);
/// Configs side by side: one row per metric, one column per config, "mean +- std (n)".
/// The metrics as in runs_table.
Table configs_side_by_side(const std::vector<ConfigSummary>& configs,
                           bool predecessor_metrics = false);
/// Final accuracy per domain, config x domain: n, mean, std, CI.
Table final_domain_table(const std::vector<ConfigSummary>& configs);
/// Unreadable runs and configs without runs.
Table problems_table(const std::vector<std::string>& problems);

/// Per-class precision, recall, F1 per domain from the last evaluation of `record`.
Table final_class_table(const io::RunRecord& record);
/// Balanced accuracy per evaluated domain after every epoch (rows: trained domain, epoch).
Table epoch_balanced_table(const io::RunRecord& record);
/// Long form for CSV: per run, epoch, evaluated domain and class: support, predicted,
/// precision, recall, F1 (epoch "final" rows are not repeated: the last epoch is the end).
/// `groups` names each record's experiment group (its config name where not given).
Table class_metrics_long(const std::vector<const io::RunRecord*>& records,
                         const std::vector<std::string>& groups = {});

}  // namespace moedil::report
