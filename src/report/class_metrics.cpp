#include "moedil/report/class_metrics.h"

#include <string>

#include "moedil/common/error.h"

namespace moedil::report {

std::vector<ClassMetrics> class_metrics(const Confusion& confusion) {
  const std::size_t c = confusion.size();
  std::vector<ClassMetrics> out(c);
  for (std::size_t t = 0; t < c; ++t) {
    if (confusion[t].size() != c) {
      throw DataError("confusion matrix is not square: row " + std::to_string(t) + " has " +
                      std::to_string(confusion[t].size()) + " entries, expected " +
                      std::to_string(c));
    }
    for (std::size_t p = 0; p < c; ++p) {
      const int64_t n = confusion[t][p];
      if (n < 0) throw DataError("confusion matrix has a negative count at [" + std::to_string(t) +
                                 "][" + std::to_string(p) + "]");
      out[t].support += n;
      out[p].predicted += n;
    }
  }
  for (std::size_t k = 0; k < c; ++k) {
    ClassMetrics& m = out[k];
    const double tp = static_cast<double>(confusion[k][k]);
    if (m.predicted > 0) m.precision = tp / static_cast<double>(m.predicted);
    if (m.support > 0) m.recall = tp / static_cast<double>(m.support);
    const double fp = static_cast<double>(m.predicted) - tp;
    const double fn = static_cast<double>(m.support) - tp;
    if (2 * tp + fp + fn > 0) m.f1 = 2 * tp / (2 * tp + fp + fn);
  }
  return out;
}

namespace {
template <class Get>
std::optional<double> mean_defined(const std::vector<ClassMetrics>& ms, Get get) {
  double sum = 0.0;
  int n = 0;
  for (const auto& m : ms) {
    if (const std::optional<double> v = get(m)) {
      sum += *v;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}
}  // namespace

std::optional<double> balanced_accuracy(const Confusion& confusion) {
  return mean_defined(class_metrics(confusion), [](const ClassMetrics& m) { return m.recall; });
}

std::optional<double> macro_f1(const Confusion& confusion) {
  return mean_defined(class_metrics(confusion), [](const ClassMetrics& m) { return m.f1; });
}

}  // namespace moedil::report
