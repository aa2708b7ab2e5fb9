#pragma once
// A domain of a DIL experiment: its images and its train and test splits.
#include <functional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"

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

/// The train and test rows of one domain made of dataset rows `rows`, as c.test_split says:
/// "partition" splits them by train_frac after a shuffle drawn from `seed`; "dataset" uses the
/// dataset's own test flags (ConfigError when it has none, naming test_split). Throws DataError
/// when either side ends up empty, naming `domain_name`.
std::pair<at::Tensor, at::Tensor> split_domain(const data::Dataset& d, std::vector<int64_t> rows,
                                               const config::RunConfig& c, uint64_t seed,
                                               const std::string& domain_name);

/// Transform domains: domain j is named names[j] and holds images_of(j), all sharing one
/// train/test split of the base images (split_domain with seeds.partition; `split_name` names
/// it in errors), so no test image was seen in training under another transform.
std::vector<Domain> transform_domains(const data::Dataset& d, const config::RunConfig& c,
                                      const std::vector<std::string>& names,
                                      const std::function<at::Tensor(std::size_t)>& images_of,
                                      const std::string& split_name);

/// Domains "p0", "p1", ... from lists of dataset rows (one list per partition), each split by
/// split_domain with the seed mix_seed(seeds.partition, {j}); images and labels are shared.
std::vector<Domain> partition_domains(const data::Dataset& d,
                                      std::vector<std::vector<int64_t>> parts,
                                      const config::RunConfig& c);

}  // namespace moedil::partition
