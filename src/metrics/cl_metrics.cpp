#include "moedil/metrics/cl_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "moedil/common/error.h"

namespace moedil::metrics {

namespace {

void check_finite_vector(const std::vector<double>& v, const char* name) {
  for (size_t j = 0; j < v.size(); ++j) {
    if (!std::isfinite(v[j])) {
      throw Error(std::string("compute_cl_metrics: ") + name + "[" + std::to_string(j) +
                  "] is not finite");
    }
  }
}

void validate(const Matrix& R, const std::vector<double>& init_acc,
              const std::optional<std::vector<double>>& baseline_acc) {
  if (R.empty()) throw Error("compute_cl_metrics: accuracy matrix R is empty");
  const size_t T = R.size();
  for (size_t i = 0; i < T; ++i) {
    if (R[i].size() != T) {
      throw Error("compute_cl_metrics: accuracy matrix R must be square (" + std::to_string(T) +
                  " x " + std::to_string(T) + "), but row " + std::to_string(i) + " has " +
                  std::to_string(R[i].size()) + " entries");
    }
    for (size_t j = 0; j < T; ++j) {
      if (!std::isfinite(R[i][j])) {
        throw Error("compute_cl_metrics: R[" + std::to_string(i) + "][" + std::to_string(j) +
                    "] is not finite");
      }
    }
  }
  if (init_acc.size() != T) {
    throw Error("compute_cl_metrics: init_acc has " + std::to_string(init_acc.size()) +
                " entries, expected " + std::to_string(T) + " (one per domain)");
  }
  check_finite_vector(init_acc, "init_acc");
  if (baseline_acc) {
    if (baseline_acc->size() != T) {
      throw Error("compute_cl_metrics: baseline_acc has " + std::to_string(baseline_acc->size()) +
                  " entries, expected " + std::to_string(T) + " (one per domain)");
    }
    check_finite_vector(*baseline_acc, "baseline_acc");
  }
}

void append_metric(std::string& out, const char* name, const std::optional<double>& value) {
  char buf[64];
  if (value) {
    std::snprintf(buf, sizeof(buf), "%s%s %.4f", out.empty() ? "" : " ", name, *value);
  } else {
    std::snprintf(buf, sizeof(buf), "%s%s n/a", out.empty() ? "" : " ", name);
  }
  out += buf;
}

}  // namespace

ClMetrics compute_cl_metrics(const Matrix& R, const std::vector<double>& init_acc,
                             const std::optional<std::vector<double>>& baseline_acc) {
  validate(R, init_acc, baseline_acc);
  const size_t T = R.size();
  const size_t last = T - 1;
  ClMetrics m;

  double sum = 0.0;
  for (size_t j = 0; j < T; ++j) sum += R[last][j];
  m.acc = sum / static_cast<double>(T);

  sum = 0.0;
  for (size_t i = 0; i < T; ++i) {
    double row = 0.0;
    for (size_t j = 0; j <= i; ++j) row += R[i][j];
    sum += row / static_cast<double>(i + 1);
  }
  m.aia = sum / static_cast<double>(T);

  sum = 0.0;
  for (size_t i = 0; i < T; ++i) sum += R[i][i];
  m.plasticity = sum / static_cast<double>(T);

  if (T >= 2) {
    double bwt = 0.0;
    double forgetting = 0.0;
    m.forgetting_per_domain.resize(last);
    for (size_t j = 0; j < last; ++j) {
      bwt += R[last][j] - R[j][j];
      double best = R[0][j];  // max over ALL rows i < T-1, including i < j (project definition)
      for (size_t i = 1; i < last; ++i) best = std::max(best, R[i][j]);
      m.forgetting_per_domain[j] = best - R[last][j];
      forgetting += m.forgetting_per_domain[j];
    }
    m.bwt = bwt / static_cast<double>(last);
    m.forgetting = forgetting / static_cast<double>(last);

    double fwt = 0.0;
    for (size_t j = 1; j < T; ++j) fwt += R[j - 1][j] - init_acc[j];
    m.fwt = fwt / static_cast<double>(last);
    if (baseline_acc) {
      double fwt_baseline = 0.0;
      for (size_t j = 1; j < T; ++j) fwt_baseline += R[j - 1][j] - (*baseline_acc)[j];
      m.fwt_baseline = fwt_baseline / static_cast<double>(last);
    }
  }

  if (baseline_acc) {
    double intr = 0.0;
    for (size_t j = 0; j < T; ++j) intr += (*baseline_acc)[j] - R[j][j];
    m.intransience = intr / static_cast<double>(T);
  }
  return m;
}

std::string to_string(const ClMetrics& m) {
  std::string out;
  append_metric(out, "ACC", m.acc);
  append_metric(out, "AIA", m.aia);
  append_metric(out, "BWT", m.bwt);
  append_metric(out, "FWT", m.fwt);
  append_metric(out, "FWT_baseline", m.fwt_baseline);
  append_metric(out, "forgetting", m.forgetting);
  append_metric(out, "plasticity", m.plasticity);
  append_metric(out, "intransience", m.intransience);
  return out;
}

}  // namespace moedil::metrics
