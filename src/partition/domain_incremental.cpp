#include "moedil/partition/domain_incremental.h"

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::partition {

std::vector<Domain> domain_incremental_domains(const data::Dataset& d,
                                               const config::RunConfig& c) {
  if (!d.has_domains()) {
    throw ConfigError("partition.type 'domainIncremental' needs a dataset with domain ids; '" +
                      d.name + "' has none (use partition.type 'rotate' for it)");
  }
  const auto num_domains = static_cast<int64_t>(d.domain_names.size());
  const at::Tensor ids_tensor = d.domain_ids.contiguous();
  if (num_domains == 0 || d.domain_ids.numel() != d.size() ||
      (d.size() > 0 && (ids_tensor.min().item<int64_t>() < 0 ||
                        ids_tensor.max().item<int64_t>() >= num_domains))) {
    throw DataError("dataset '" + d.name + "': domain ids must be in [0, " +
                    std::to_string(num_domains) + ") with one id per image");
  }
  if (num_domains % c.num_partitions != 0) {
    throw ConfigError("num_partitions: " + std::to_string(c.num_partitions) +
                      " does not divide the " + std::to_string(num_domains) + " domains of '" +
                      d.name + "' (domainIncremental groups whole domains)");
  }
  const int64_t per_group = num_domains / c.num_partitions;
  std::vector<std::vector<int64_t>> members(static_cast<std::size_t>(c.num_partitions));
  const int64_t* ids = ids_tensor.data_ptr<int64_t>();
  for (int64_t i = 0; i < d.size(); ++i) members[ids[i] / per_group].push_back(i);
  std::vector<Domain> domains;
  for (int64_t g = 0; g < c.num_partitions; ++g) {
    std::string name;
    for (int64_t k = g * per_group; k < (g + 1) * per_group; ++k) {
      name += (name.empty() ? "" : "+") + d.domain_names[k];
    }
    if (members[g].size() < 2) {
      throw DataError("domain '" + name + "' of '" + d.name + "' has " +
                      std::to_string(members[g].size()) +
                      " samples; it needs at least 2 for a train and a test split");
    }
    const auto [train, test] =
        split_train_test(std::move(members[g]), c.train_frac,
                         mix_seed(static_cast<uint64_t>(c.seeds.partition), {static_cast<uint64_t>(g)}));
    domains.push_back(
        {name, d.images, d.labels, data::index_tensor(train), data::index_tensor(test)});
  }
  return domains;
}

}  // namespace moedil::partition
