#include "moedil/metrics/confusion.h"

#include <string>

#include "moedil/common/error.h"

namespace moedil::metrics {

namespace {

int checked_num_classes(int num_classes) {
  if (num_classes <= 0) {
    throw Error("ConfusionMatrix: num_classes must be positive, got " +
                std::to_string(num_classes));
  }
  return num_classes;
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(int num_classes)
    : num_classes_(checked_num_classes(num_classes)),
      counts_(static_cast<size_t>(num_classes) * static_cast<size_t>(num_classes), 0) {}

ConfusionMatrix ConfusionMatrix::from_counts(int num_classes,
                                             const std::vector<int64_t>& row_major_counts) {
  ConfusionMatrix m(num_classes);
  if (row_major_counts.size() != m.counts_.size()) {
    throw Error("ConfusionMatrix::from_counts: expected " + std::to_string(m.counts_.size()) +
                " counts for " + std::to_string(num_classes) + " classes, got " +
                std::to_string(row_major_counts.size()));
  }
  int64_t total = 0;
  for (size_t i = 0; i < row_major_counts.size(); ++i) {
    if (row_major_counts[i] < 0) {
      throw Error("ConfusionMatrix::from_counts: negative count " +
                  std::to_string(row_major_counts[i]) + " at index " + std::to_string(i));
    }
    total += row_major_counts[i];
  }
  m.counts_ = row_major_counts;
  m.total_ = total;
  return m;
}

void ConfusionMatrix::check_class(int cls, const char* what) const {
  if (cls < 0 || cls >= num_classes_) {
    throw Error(std::string("ConfusionMatrix: ") + what + " class " + std::to_string(cls) +
                " out of range [0, " + std::to_string(num_classes_) + ")");
  }
}

void ConfusionMatrix::add(int truth, int pred) {
  check_class(truth, "true");
  check_class(pred, "predicted");
  ++counts_[static_cast<size_t>(truth) * num_classes_ + pred];
  ++total_;
}

int ConfusionMatrix::num_classes() const { return num_classes_; }

int64_t ConfusionMatrix::at(int truth, int pred) const {
  check_class(truth, "true");
  check_class(pred, "predicted");
  return counts_[static_cast<size_t>(truth) * num_classes_ + pred];
}

int64_t ConfusionMatrix::total() const { return total_; }

double ConfusionMatrix::accuracy() const {
  if (total_ == 0) return 0.0;
  int64_t trace = 0;
  for (int c = 0; c < num_classes_; ++c) {
    trace += counts_[static_cast<size_t>(c) * num_classes_ + c];
  }
  return static_cast<double>(trace) / static_cast<double>(total_);
}

std::vector<double> ConfusionMatrix::per_class_recall() const {
  std::vector<double> recall(num_classes_, 0.0);
  for (int t = 0; t < num_classes_; ++t) {
    int64_t row_sum = 0;
    for (int p = 0; p < num_classes_; ++p) {
      row_sum += counts_[static_cast<size_t>(t) * num_classes_ + p];
    }
    if (row_sum > 0) {
      recall[t] = static_cast<double>(counts_[static_cast<size_t>(t) * num_classes_ + t]) /
                  static_cast<double>(row_sum);
    }
  }
  return recall;
}

std::vector<std::vector<int64_t>> ConfusionMatrix::rows() const {
  std::vector<std::vector<int64_t>> out(num_classes_);
  for (int t = 0; t < num_classes_; ++t) {
    auto begin = counts_.begin() + static_cast<std::ptrdiff_t>(t) * num_classes_;
    out[t].assign(begin, begin + num_classes_);
  }
  return out;
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  if (other.num_classes_ != num_classes_) {
    throw Error("ConfusionMatrix::merge: class count mismatch (" + std::to_string(num_classes_) +
                " vs " + std::to_string(other.num_classes_) + ")");
  }
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
}

}  // namespace moedil::metrics
