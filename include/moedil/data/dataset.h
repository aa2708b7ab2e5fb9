#pragma once
// A whole dataset in memory: uint8 images NCHW, int64 labels, optional domain ids.
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace moedil::data {

struct Dataset {
  std::string name;
  at::Tensor images;      ///< uint8 [N, C, H, W], CPU, contiguous
  at::Tensor labels;      ///< int64 [N], values in [0, num_classes)
  at::Tensor domain_ids;  ///< int64 [N] (datasets with domains), undefined otherwise
  std::vector<std::string> domain_names;  ///< name of each domain id
  std::vector<std::string> class_names;   ///< name of each class (may be empty)
  /// bool [N]: the sample belongs to the dataset's own test set (undefined: no such split).
  at::Tensor is_test;
  int64_t num_classes = 0;
  /// Per-channel mean and std of images / 255, used to normalise batches (empty until computed;
  /// a cached image dataset comes with them).
  std::vector<double> mean;
  std::vector<double> stddev;

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  bool has_domains() const { return domain_ids.defined(); }
  bool has_test_split() const { return is_test.defined(); }
};

/// The rows `indices` (int64 [M]) of every per-sample tensor of d (mean and stddev left empty:
/// they were d's).
Dataset subset(const Dataset& d, const at::Tensor& indices);

/// Keeps `count` samples chosen by a seeded random permutation (count 0 or >= size keeps all).
Dataset subsample(const Dataset& d, int64_t count, uint64_t seed);

/// Sets d.mean and d.stddev from the images (per channel, on the [0, 1] scale).
void compute_normalisation(Dataset& d);

/// Int64 CPU tensor from a vector of indices.
at::Tensor index_tensor(const std::vector<int64_t>& indices);

}  // namespace moedil::data
