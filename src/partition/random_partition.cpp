#include "moedil/partition/random_partition.h"

#include <random>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::partition {
namespace {

/// Stream id of the assignment, apart from the per-partition split seeds mix_seed(seed, {index}).
constexpr uint64_t kRandomStream = 0x72616e646f6d0000ULL;  // "random"

}  // namespace

std::vector<Domain> random_domains(const data::Dataset& d, const config::RunConfig& c) {
  const int64_t num_partitions = c.num_partitions;
  if (num_partitions < 1) {
    throw ConfigError("num_partitions: must be >= 1, got " + std::to_string(num_partitions));
  }
  const auto seed = static_cast<uint64_t>(c.seeds.partition);
  std::mt19937_64 engine(mix_seed(seed, {kRandomStream}));
  std::vector<std::vector<int64_t>> parts(static_cast<std::size_t>(num_partitions));
  for (int64_t i = 0; i < d.size(); ++i) {
    parts[uniform_below(engine, static_cast<uint64_t>(num_partitions))].push_back(i);
  }
  for (int64_t j = 0; j < num_partitions; ++j) {
    if (parts[static_cast<std::size_t>(j)].empty()) {
      throw DataError("num_partitions: random partition 'p" + std::to_string(j) +
                      "' of dataset '" + d.name + "' (" + std::to_string(d.size()) +
                      " samples into " + std::to_string(num_partitions) +
                      " partitions) received no samples; lower num_partitions, use more data, "
                      "or use partition.type 'static' (equal sizes)");
    }
  }
  return partition_domains(d, std::move(parts), c);
}

}  // namespace moedil::partition
