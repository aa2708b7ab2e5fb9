#include "moedil/report/summary.h"

#include "moedil/common/error.h"
#include "moedil/report/class_metrics.h"

namespace moedil::report {

std::array<std::optional<double>, kMetricNames.size()> RunSummary::values() const {
  std::array<std::optional<double>, kMetricNames.size()> v;
  if (cl) {
    v = {cl->acc,        cl->aia,        cl->bwt,          cl->fwt,     cl->fwt_baseline,
         cl->forgetting, cl->plasticity, cl->intransience, std::nullopt};
  }
  v[kMoedilMetricCount - 1] = balanced_acc;
  if (predecessor) {
    v[kMoedilMetricCount] = predecessor->aia;
    v[kMoedilMetricCount + 1] = predecessor->fwt;
    v[kMoedilMetricCount + 2] = predecessor->intransigence;
  }
  return v;
}

RunSummary summarize_run(const io::RunRecord& r, const std::string& path) {
  RunSummary s;
  s.id = r.run.id;
  s.config_name = r.run.config_name;
  s.group = r.run.config_name;
  s.path = path;
  s.status = r.run.status;
  s.error = r.run.error;
  if (r.run.seeds.is_object() && r.run.seeds.contains("global")) {
    const auto& g = r.run.seeds["global"];
    s.seed = g.is_string() ? g.get<std::string>() : g.dump();
  }
  s.domains = r.domains;
  s.domains_trained = static_cast<int64_t>(r.r_matrix.size());
  s.epochs_done = static_cast<int64_t>(r.epochs.size());
  const bool full_matrix = !r.r_matrix.empty() && r.r_matrix.size() == r.domains.size();
  if (r.metrics) {
    s.cl = r.metrics;
  } else if (full_matrix && r.init_acc.size() == r.domains.size()) {
    try {
      s.cl = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, r.baseline_acc);
    } catch (const Error&) {
      // a malformed matrix: leave the metrics undefined
    }
  }
  if (full_matrix) {
    try {
      s.predecessor = metrics::predecessor_metrics(r.r_matrix, r.baseline_acc);
    } catch (const Error&) {
      // a malformed matrix: leave them undefined
    }
  }
  if (!r.epochs.empty()) {
    double sum = 0.0;
    int n = 0;
    for (const io::EvalRecord& e : r.epochs.back().eval) {
      s.final_domain_acc.push_back(e.acc);
      std::optional<double> b;
      try {
        b = balanced_accuracy(e.confusion);
      } catch (const Error& err) {
        throw DataError(path + ": domain " + e.domain + ": " + err.what());
      }
      s.final_domain_balanced_acc.push_back(b.value_or(0.0));
      if (b) {
        sum += *b;
        ++n;
      }
    }
    if (n > 0) s.balanced_acc = sum / n;
  }
  return s;
}

std::vector<ConfigSummary> summarize_configs(const std::vector<RunSummary>& runs,
                                             const std::vector<std::string>& configs) {
  std::vector<ConfigSummary> out;
  for (const std::string& name : configs) {
    ConfigSummary c;
    c.name = name;
    std::array<std::vector<std::optional<double>>, kMetricNames.size()> values;
    std::vector<std::vector<std::optional<double>>> per_domain;
    for (const RunSummary& r : runs) {
      if (r.group != name) continue;
      if (!r.completed()) {
        ++c.not_completed;
        continue;
      }
      ++c.completed;
      if (c.domains.empty()) c.domains = r.domains;
      const auto v = r.values();
      for (std::size_t m = 0; m < v.size(); ++m) values[m].push_back(v[m]);
      if (per_domain.size() < r.final_domain_acc.size()) per_domain.resize(r.final_domain_acc.size());
      for (std::size_t j = 0; j < r.final_domain_acc.size(); ++j) {
        per_domain[j].push_back(r.final_domain_acc[j]);
      }
    }
    for (std::size_t m = 0; m < values.size(); ++m) c.metrics[m] = population_stats(values[m]);
    for (const auto& d : per_domain) c.final_domain_acc.push_back(population_stats(d));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace moedil::report
