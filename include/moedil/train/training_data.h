#pragma once
// The run's data on the training device: every domain's images and labels, cut into training and
// test batches, with the normalisation and the seeded augmentation. Plugins read from it (a
// replay memory's samples, a Fisher pass over a domain, a joint training set).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "moedil/config/run_config.h"
#include "moedil/data/augment.h"
#include "moedil/data/batching.h"
#include "moedil/partition/domain.h"
#include "moedil/train/replay.h"

namespace moedil::train {

/// The values of an integer tensor (any device) as int64 on the host: the inverse of
/// data::index_tensor.
std::vector<int64_t> host_vector(const at::Tensor& t);

class TrainingData {
 public:
  /// `mean`/`stddev` per channel on the [0, 1] scale. Each domain's images go to `device` once.
  TrainingData(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
               at::Device device, const std::vector<double>& mean,
               const std::vector<double>& stddev);

  int64_t num_domains() const { return static_cast<int64_t>(domains_.size()); }
  const partition::Domain& domain(int64_t d) const { return domains_.at(d); }
  const std::string& name(int64_t d) const { return domains_.at(d).name; }
  /// Training and test batches of domain d (the loop shuffles the training batches in place).
  data::Batches& train_batches(int64_t d) { return train_batches_.at(d); }
  const data::Batches& train_batches(int64_t d) const { return train_batches_.at(d); }
  const data::Batches& test_batches(int64_t d) const { return test_batches_.at(d); }
  /// Label of row `row` of domain d, from a host copy.
  int64_t label(int64_t d, int64_t row) const { return host_labels_.at(d).at(row); }
  /// Labels of domain d's training split, on the host device of the domain.
  at::Tensor train_labels(int64_t d) const;
  at::Device device() const { return device_; }

  /// Normalised, augmented (seeded by `seed`) images and labels of the given samples, grouped
  /// by domain (in increasing domain order, each domain's samples in the order given).
  std::pair<at::Tensor, at::Tensor> gather(const std::vector<ReplaySample>& samples,
                                           uint64_t seed) const;
  /// Training batch `step` of `batches`, augmented with a seed drawn from `seed`.
  std::pair<at::Tensor, at::Tensor> training_batch(const data::Batches& batches, int64_t step,
                                                   uint64_t seed) const;

 private:
  const std::vector<partition::Domain>& domains_;
  at::Device device_;
  data::Normalizer normalizer_;
  data::Augmenter augment_;
  std::vector<at::Tensor> images_;                 ///< per domain, on the device
  std::vector<at::Tensor> labels_;                 ///< per domain, on the device
  std::vector<std::vector<int64_t>> host_labels_;  ///< per domain
  std::vector<data::Batches> train_batches_;
  std::vector<data::Batches> test_batches_;
};

}  // namespace moedil::train
