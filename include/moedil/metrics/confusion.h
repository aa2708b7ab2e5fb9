#pragma once
// Confusion matrix over a fixed number of classes, indexed [truth][pred].
#include <cstdint>
#include <vector>

namespace moedil::metrics {

/// Counts of (truth, prediction) pairs over `num_classes` classes, stored row-major
/// (row = true class, column = predicted class).
class ConfusionMatrix {
 public:
  /// Creates an all-zero matrix. Throws moedil::Error if `num_classes` <= 0.
  explicit ConfusionMatrix(int num_classes);

  /// Builds a matrix from row-major counts, `counts[t * num_classes + p]`.
  /// Throws moedil::Error if `num_classes` <= 0, if the size is not num_classes^2, or if a
  /// count is negative.
  static ConfusionMatrix from_counts(int num_classes, const std::vector<int64_t>& row_major_counts);

  /// Records one sample with true class `truth` predicted as `pred`.
  /// Throws moedil::Error if either class is outside [0, num_classes).
  void add(int truth, int pred);

  /// Number of classes C (the matrix is C x C).
  int num_classes() const;

  /// Count of samples of true class `truth` predicted as `pred`.
  /// Throws moedil::Error if either class is outside [0, num_classes).
  int64_t at(int truth, int pred) const;

  /// Total number of samples recorded.
  int64_t total() const;

  /// Fraction of correct predictions, trace / total; 0.0 when no samples were recorded.
  double accuracy() const;

  /// Per-class recall, row t: at(t, t) / (sum of row t). A class with no samples gets 0.0
  /// (never NaN). Size num_classes.
  std::vector<double> per_class_recall() const;

  /// The counts as nested vectors, indexed [truth][pred].
  std::vector<std::vector<int64_t>> rows() const;

  /// Adds the counts of `other` into this matrix.
  /// Throws moedil::Error if the two matrices have different numbers of classes.
  void merge(const ConfusionMatrix& other);

 private:
  void check_class(int cls, const char* what) const;

  int num_classes_;
  std::vector<int64_t> counts_;  // row-major, counts_[truth * num_classes_ + pred]
  int64_t total_ = 0;
};

}  // namespace moedil::metrics
