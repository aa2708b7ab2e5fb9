#pragma once
// Population statistics over seed groups (one value per completed run of a config).
#include <optional>
#include <vector>

namespace moedil::report {

/// n, mean, sample standard deviation and the 95% confidence interval of the mean.
struct PopulationStats {
  int n = 0;
  double mean = 0.0;
  /// Sample standard deviation (divisor n - 1); nullopt when n < 2 (undefined from one value).
  std::optional<double> std;
  /// mean -+ t_{0.975, n-1} * std / sqrt(n); nullopt when n < 2.
  std::optional<double> ci_low;
  std::optional<double> ci_high;
};

/// Two-sided 95% quantile of Student's t with `df` degrees of freedom, t_{0.975, df}:
/// tabulated for df 1..30, 40, 60, 120 and interpolated linearly in 1/df between them
/// (1.96 as df -> infinity). Throws moedil::Error if df < 1.
double student_t_975(int df);

/// Statistics of `values` (nullopt entries are skipped: a metric undefined for a run).
/// Returns nullopt when no value is left.
std::optional<PopulationStats> population_stats(const std::vector<std::optional<double>>& values);

}  // namespace moedil::report
