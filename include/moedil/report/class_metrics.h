#pragma once
// Per-class precision, recall and F1, and balanced accuracy, from a confusion matrix
// indexed [truth][pred] (as run.json stores it).
#include <cstdint>
#include <optional>
#include <vector>

namespace moedil::report {

using Confusion = std::vector<std::vector<int64_t>>;

struct ClassMetrics {
  int64_t support = 0;    ///< true samples of the class (row sum)
  int64_t predicted = 0;  ///< samples predicted as the class (column sum)
  /// TP / predicted; nullopt when the class is never predicted.
  std::optional<double> precision;
  /// TP / support; nullopt when the class has no true samples.
  std::optional<double> recall;
  /// 2 TP / (2 TP + FP + FN) (the harmonic mean of precision and recall where both exist; 0 for
  /// a class with samples that is never predicted); nullopt when the class is neither present
  /// nor predicted.
  std::optional<double> f1;
};

/// One entry per class. Throws DataError if the matrix is not square or has a negative count.
std::vector<ClassMetrics> class_metrics(const Confusion& confusion);

/// Mean recall over the classes that have true samples; nullopt when there are none.
std::optional<double> balanced_accuracy(const Confusion& confusion);

/// Mean F1 over the classes where it is defined; nullopt when there are none.
std::optional<double> macro_f1(const Confusion& confusion);

}  // namespace moedil::report
