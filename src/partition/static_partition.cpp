#include "moedil/partition/static_partition.h"

#include <algorithm>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::partition {
namespace {

/// Stream id of the shuffle, apart from the per-chunk split seeds mix_seed(seed, {index}).
constexpr uint64_t kStaticStream = 0x7374617469630000ULL;  // "static"

}  // namespace

std::vector<Domain> static_domains(const data::Dataset& d, const config::RunConfig& c) {
  const int64_t num_partitions = c.num_partitions;
  if (num_partitions < 1) {
    throw ConfigError("num_partitions: must be >= 1, got " + std::to_string(num_partitions));
  }
  const int64_t n = d.size();
  if (n < num_partitions) {
    throw DataError("num_partitions: " + std::to_string(num_partitions) +
                    " static partitions of dataset '" + d.name + "' need at least as many " +
                    "samples, but it has " + std::to_string(n) +
                    "; lower num_partitions or use more data");
  }
  const auto seed = static_cast<uint64_t>(c.seeds.partition);
  const std::vector<int64_t> order = random_permutation(n, mix_seed(seed, {kStaticStream}));
  const int64_t base = n / num_partitions;
  const int64_t extra = n % num_partitions;
  std::vector<std::vector<int64_t>> parts;
  int64_t start = 0;
  for (int64_t j = 0; j < num_partitions; ++j) {
    const int64_t end = start + base + (j < extra ? 1 : 0);
    parts.emplace_back(order.begin() + start, order.begin() + end);
    std::sort(parts.back().begin(), parts.back().end());
    start = end;
  }
  return partition_domains(d, std::move(parts), c);
}

}  // namespace moedil::partition
