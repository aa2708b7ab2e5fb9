#include "moedil/partition/domain.h"

#include <algorithm>
#include <cmath>

#include "moedil/common/random.h"

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

}  // namespace moedil::partition
