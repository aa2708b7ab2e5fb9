#include "moedil/partition/domain.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/stop.h"

namespace moedil::partition {

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_train_test(
    std::vector<int64_t> indices, double train_frac, uint64_t seed) {
  const auto n = static_cast<int64_t>(indices.size());
  const std::vector<int64_t> order = random_permutation(n, seed);
  auto n_train = static_cast<int64_t>(std::llround(train_frac * static_cast<double>(n)));
  if (n >= 2) n_train = std::clamp<int64_t>(n_train, 1, n - 1);
  std::pair<std::vector<int64_t>, std::vector<int64_t>> out;
  for (int64_t i = 0; i < n; ++i) {
    (i < n_train ? out.first : out.second).push_back(indices[order[i]]);
  }
  return out;
}

std::pair<at::Tensor, at::Tensor> split_domain(const data::Dataset& d, std::vector<int64_t> rows,
                                               const config::RunConfig& c, uint64_t seed,
                                               const std::string& domain_name) {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
  if (c.test_split == "dataset") {
    if (!d.has_test_split()) {
      throw ConfigError("test_split: 'dataset' but '" + d.name +
                        "' has no test set of its own; use test_split 'partition'");
    }
    const at::Tensor flags = d.is_test.to(at::kBool).contiguous();
    const bool* is_test = flags.data_ptr<bool>();
    for (int64_t r : rows) (is_test[r] ? test : train).push_back(r);
  } else {
    std::tie(train, test) = split_train_test(std::move(rows), c.train_frac, seed);
  }
  if (train.empty() || test.empty()) {
    throw DataError("domain '" + domain_name + "' of '" + d.name + "' has " +
                    std::to_string(train.size()) + " training and " + std::to_string(test.size()) +
                    " test samples; each needs at least one (test_split '" + c.test_split + "')");
  }
  return {data::index_tensor(train), data::index_tensor(test)};
}

std::vector<Domain> transform_domains(const data::Dataset& d, const config::RunConfig& c,
                                      const std::vector<std::string>& names,
                                      const std::function<at::Tensor(std::size_t)>& images_of,
                                      const std::string& split_name) {
  std::vector<int64_t> all(static_cast<std::size_t>(d.size()));
  std::iota(all.begin(), all.end(), int64_t{0});
  const auto [train_idx, test_idx] =
      split_domain(d, std::move(all), c, static_cast<uint64_t>(c.seeds.partition), split_name);
  std::vector<Domain> domains;
  for (std::size_t j = 0; j < names.size(); ++j) {
    throw_if_stopped("building domain '" + names[j] + "'");
    domains.push_back({names[j], images_of(j), d.labels, train_idx, test_idx});
  }
  return domains;
}

std::vector<Domain> partition_domains(const data::Dataset& d,
                                      std::vector<std::vector<int64_t>> parts,
                                      const config::RunConfig& c) {
  const auto seed = static_cast<uint64_t>(c.seeds.partition);
  std::vector<Domain> domains;
  for (std::size_t j = 0; j < parts.size(); ++j) {
    const std::string name = "p" + std::to_string(j);
    throw_if_stopped("building domain '" + name + "'");
    auto [train, test] = split_domain(d, std::move(parts[j]), c, mix_seed(seed, {j}), name);
    domains.push_back({name, d.images, d.labels, std::move(train), std::move(test)});
  }
  return domains;
}

}  // namespace moedil::partition
