#include "moedil/report/tables.h"

#include <cstdio>

#include "moedil/report/class_metrics.h"

namespace moedil::report {
namespace {

std::string fmt4(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string mean_std_text(const std::optional<PopulationStats>& s) {
  if (!s) return "n/a";
  std::string t = fmt4(s->mean);
  t += s->std ? " +- " + fmt4(*s->std) : " +- n/a";
  return t + " (n=" + std::to_string(s->n) + ")";
}

void add_stats_cells(std::vector<Cell>& row, const std::optional<PopulationStats>& s) {
  row.push_back(Cell::integer(s ? s->n : 0));
  row.push_back(Cell::num(s ? std::optional<double>(s->mean) : std::nullopt));
  row.push_back(Cell::num(s ? s->std : std::nullopt));
  row.push_back(Cell::num(s ? s->ci_low : std::nullopt));
  row.push_back(Cell::num(s ? s->ci_high : std::nullopt));
}

std::string domain_name(const io::RunRecord& r, std::size_t j, const io::EvalRecord& e) {
  if (!e.domain.empty()) return e.domain;
  return j < r.domains.size() ? r.domains[j] : std::to_string(j);
}

}  // namespace

Table runs_table(const std::vector<RunSummary>& runs, const std::vector<std::string>& varied_keys,
                 bool predecessor_metrics) {
  const std::size_t shown = shown_metric_count(predecessor_metrics);
  Table t{"Runs (completed)", {"config", "run", "seed"}, {}};
  for (const std::string& key : varied_keys) t.columns.push_back(key);
  for (std::size_t m = 0; m < shown; ++m) t.columns.emplace_back(kMetricNames[m]);
  for (const RunSummary& r : runs) {
    if (!r.completed()) continue;
    std::vector<Cell> row{r.group, r.id, r.seed};
    for (std::size_t k = 0; k < varied_keys.size(); ++k) {
      row.emplace_back(k < r.varied.size() ? r.varied[k] : std::string());
    }
    const auto values = r.values();
    for (std::size_t m = 0; m < shown; ++m) row.push_back(Cell::num(values[m]));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table status_table(const std::vector<RunSummary>& runs) {
  Table t{"Runs not completed (not in the statistics)",
          {"config", "run", "status", "domains_trained", "epochs", "error", "path"},
          {}};
  for (const RunSummary& r : runs) {
    if (r.completed()) continue;
    t.rows.push_back({r.group, r.id, r.status, Cell::integer(r.domains_trained),
                      Cell::integer(r.epochs_done), r.error, r.path});
  }
  return t;
}

Table config_stats_table(const std::vector<ConfigSummary>& configs, bool predecessor_metrics) {
  Table t{"Population statistics over completed runs (sample std, 95% CI of the mean)",
          {"config", "metric", "n", "mean", "std", "ci95_low", "ci95_high"},
          {}};
  for (const ConfigSummary& c : configs) {
    for (std::size_t m = 0; m < shown_metric_count(predecessor_metrics); ++m) {
      std::vector<Cell> row{c.name, kMetricNames[m]};
      add_stats_cells(row, c.metrics[m]);
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

Table configs_side_by_side(const std::vector<ConfigSummary>& configs, bool predecessor_metrics) {
  Table t{"Configs side by side: mean +- std (n completed runs)", {"metric"}, {}};
  for (const ConfigSummary& c : configs) t.columns.push_back(c.name);
  std::vector<Cell> runs_row{"completed / other runs"};
  for (const ConfigSummary& c : configs) {
    runs_row.emplace_back(std::to_string(c.completed) + " / " + std::to_string(c.not_completed));
  }
  t.rows.push_back(std::move(runs_row));
  for (std::size_t m = 0; m < shown_metric_count(predecessor_metrics); ++m) {
    std::vector<Cell> row{kMetricNames[m]};
    for (const ConfigSummary& c : configs) row.emplace_back(mean_std_text(c.metrics[m]));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table final_domain_table(const std::vector<ConfigSummary>& configs) {
  Table t{"Final accuracy per domain over completed runs",
          {"config", "domain", "n", "mean", "std", "ci95_low", "ci95_high"},
          {}};
  for (const ConfigSummary& c : configs) {
    for (std::size_t j = 0; j < c.final_domain_acc.size(); ++j) {
      std::vector<Cell> row{c.name, j < c.domains.size() ? c.domains[j] : std::to_string(j)};
      add_stats_cells(row, c.final_domain_acc[j]);
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

Table problems_table(const std::vector<std::string>& problems) {
  Table t{"Problems (skipped)", {"problem"}, {}};
  for (const std::string& p : problems) t.rows.push_back({p});
  return t;
}

Table final_class_table(const io::RunRecord& r) {
  Table t{"Per-class metrics at the end, per domain",
          {"domain", "class", "support", "predicted", "precision", "recall", "f1"},
          {}};
  if (r.epochs.empty()) return t;
  const auto& eval = r.epochs.back().eval;
  for (std::size_t j = 0; j < eval.size(); ++j) {
    const auto ms = class_metrics(eval[j].confusion);
    for (std::size_t k = 0; k < ms.size(); ++k) {
      t.rows.push_back({domain_name(r, j, eval[j]), Cell::integer(static_cast<long long>(k)),
                        Cell::integer(ms[k].support), Cell::integer(ms[k].predicted),
                        Cell::num(ms[k].precision), Cell::num(ms[k].recall), Cell::num(ms[k].f1)});
    }
    t.rows.push_back({domain_name(r, j, eval[j]), "balanced accuracy", "", "", "",
                      Cell::num(balanced_accuracy(eval[j].confusion)), ""});
  }
  return t;
}

Table epoch_balanced_table(const io::RunRecord& r) {
  Table t{"Balanced accuracy per domain after every epoch", {"trained_domain", "epoch"}, {}};
  for (const std::string& d : r.domains) t.columns.push_back(d);
  for (const io::EpochRecord& e : r.epochs) {
    std::vector<Cell> row{e.domain < static_cast<int64_t>(r.domains.size()) && e.domain >= 0
                              ? r.domains[static_cast<std::size_t>(e.domain)]
                              : std::to_string(e.domain),
                          Cell::integer(e.epoch)};
    for (std::size_t j = 0; j < r.domains.size(); ++j) {
      row.push_back(Cell::num(j < e.eval.size() ? balanced_accuracy(e.eval[j].confusion)
                                                : std::nullopt));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table class_metrics_long(const std::vector<const io::RunRecord*>& records,
                         const std::vector<std::string>& groups) {
  Table t{"Per-class metrics per epoch",
          {"config", "run", "epoch_index", "trained_domain", "epoch", "eval_domain", "class",
           "support", "predicted", "precision", "recall", "f1"},
          {}};
  for (std::size_t n = 0; n < records.size(); ++n) {
    const io::RunRecord* r = records[n];
    const std::string& group = n < groups.size() ? groups[n] : r->run.config_name;
    for (std::size_t i = 0; i < r->epochs.size(); ++i) {
      const io::EpochRecord& e = r->epochs[i];
      const std::string trained = e.domain >= 0 && e.domain < static_cast<int64_t>(r->domains.size())
                                      ? r->domains[static_cast<std::size_t>(e.domain)]
                                      : std::to_string(e.domain);
      for (std::size_t j = 0; j < e.eval.size(); ++j) {
        const auto ms = class_metrics(e.eval[j].confusion);
        for (std::size_t k = 0; k < ms.size(); ++k) {
          t.rows.push_back({group, r->run.id,
                            Cell::integer(static_cast<long long>(i)), trained,
                            Cell::integer(e.epoch), domain_name(*r, j, e.eval[j]),
                            Cell::integer(static_cast<long long>(k)), Cell::integer(ms[k].support),
                            Cell::integer(ms[k].predicted), Cell::num(ms[k].precision),
                            Cell::num(ms[k].recall), Cell::num(ms[k].f1)});
        }
      }
    }
  }
  return t;
}

}  // namespace moedil::report
