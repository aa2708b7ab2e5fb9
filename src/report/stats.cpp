#include "moedil/report/stats.h"

#include <cmath>
#include <string>

#include "moedil/common/error.h"

namespace moedil::report {
namespace {

// t_{0.975, df} for df = 1..30.
constexpr double kT975[30] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060,
                              2.2622,  2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199,
                              2.1098,  2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639,
                              2.0595,  2.0555, 2.0518, 2.0484, 2.0452, 2.0423};

struct TailPoint {
  double df;
  double t;
};
// Beyond 30 the quantile is close to linear in 1/df; df = infinity (1/df = 0) gives 1.96.
constexpr TailPoint kTail[] = {{30, 2.0423}, {40, 2.0211}, {60, 2.0003}, {120, 1.9799}};

}  // namespace

double student_t_975(int df) {
  if (df < 1) throw Error("student_t_975: degrees of freedom must be >= 1, got " + std::to_string(df));
  if (df <= 30) return kT975[df - 1];
  const double x = 1.0 / df;
  for (std::size_t i = 0; i + 1 < std::size(kTail); ++i) {
    const double x0 = 1.0 / kTail[i].df, x1 = 1.0 / kTail[i + 1].df;
    if (x <= x0 && x >= x1) {
      return kTail[i + 1].t + (kTail[i].t - kTail[i + 1].t) * (x - x1) / (x0 - x1);
    }
  }
  const double x0 = 1.0 / kTail[std::size(kTail) - 1].df;
  return 1.96 + (kTail[std::size(kTail) - 1].t - 1.96) * x / x0;
}

std::optional<PopulationStats> population_stats(const std::vector<std::optional<double>>& values) {
  std::vector<double> v;
  for (const auto& x : values) {
    if (x && std::isfinite(*x)) v.push_back(*x);
  }
  if (v.empty()) return std::nullopt;
  PopulationStats s;
  s.n = static_cast<int>(v.size());
  double sum = 0.0;
  for (double x : v) sum += x;
  s.mean = sum / s.n;
  if (s.n >= 2) {
    double ss = 0.0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
    const double half = student_t_975(s.n - 1) * *s.std / std::sqrt(static_cast<double>(s.n));
    s.ci_low = s.mean - half;
    s.ci_high = s.mean + half;
  }
  return s;
}

}  // namespace moedil::report
