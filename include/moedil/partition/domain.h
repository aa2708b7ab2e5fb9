#pragma once
// A domain of a DIL experiment: its images and its train and test splits.
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace moedil::partition {

struct Domain {
  std::string name;
  at::Tensor images;     ///< uint8 [N, C, H, W] (may share storage with other domains)
  at::Tensor labels;     ///< int64 [N]
  at::Tensor train_idx;  ///< int64 rows of images used for training
  at::Tensor test_idx;   ///< int64 rows used for evaluation
};

/// Splits `indices` into (train, test) after a seeded shuffle: the first
/// round(train_frac * n) go to train, at least one sample each side when n >= 2.
std::pair<std::vector<int64_t>, std::vector<int64_t>> split_train_test(
    std::vector<int64_t> indices, double train_frac, uint64_t seed);

}  // namespace moedil::partition
