#include "moedil/partition/domain_incremental.h"

#include <algorithm>

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::partition {

std::vector<int64_t> select_domains(const data::Dataset& d,
                                    const std::vector<std::string>& names,
                                    const std::string& key) {
  std::vector<int64_t> out;
  std::string valid;
  for (const auto& n : d.domain_names) valid += (valid.empty() ? "" : ", ") + n;
  for (const auto& wanted : names) {
    int64_t found = -1;
    for (std::size_t k = 0; k < d.domain_names.size(); ++k) {
      const std::string& name = d.domain_names[k];
      if (name == wanted || name == "s" + wanted) found = static_cast<int64_t>(k);
    }
    if (found < 0) {
      throw ConfigError(key + ": '" + wanted + "' is not a domain of '" + d.name +
                        "'; its domains are: " + valid);
    }
    if (std::find(out.begin(), out.end(), found) != out.end()) {
      throw ConfigError(key + ": domain '" + wanted + "' is listed twice");
    }
    out.push_back(found);
  }
  return out;
}

std::vector<Domain> domain_incremental_domains(const data::Dataset& d,
                                               const config::RunConfig& c) {
  if (!d.has_domains()) {
    throw ConfigError("partition.type 'domainIncremental' needs a dataset with domain ids; '" +
                      d.name + "' has none (use partition.type 'rotate' for it)");
  }
  const auto known = static_cast<int64_t>(d.domain_names.size());
  const at::Tensor ids_tensor = d.domain_ids.contiguous();
  if (known == 0 || d.domain_ids.numel() != d.size() ||
      (d.size() > 0 && (ids_tensor.min().item<int64_t>() < 0 ||
                        ids_tensor.max().item<int64_t>() >= known))) {
    throw DataError("dataset '" + d.name + "': domain ids must be in [0, " +
                    std::to_string(known) + ") with one id per image");
  }
  // Training domains: `settings` in their order, else every domain not held out for testing.
  const std::vector<int64_t> held_out = select_domains(d, c.test_settings, "test_settings");
  std::vector<int64_t> order;
  if (!c.settings.empty()) {
    order = select_domains(d, c.settings, "settings");
  } else {
    for (int64_t k = 0; k < known; ++k) {
      if (std::find(held_out.begin(), held_out.end(), k) == held_out.end()) order.push_back(k);
    }
  }
  for (int64_t k : order) {
    if (std::find(held_out.begin(), held_out.end(), k) != held_out.end()) {
      throw ConfigError("settings: domain '" + d.domain_names[k] +
                        "' is also in test_settings; a domain is either trained or held out");
    }
  }
  const auto num_domains = static_cast<int64_t>(order.size());
  if (num_domains == 0 || num_domains % c.num_partitions != 0) {
    throw ConfigError("num_partitions: " + std::to_string(c.num_partitions) +
                      " does not divide the " + std::to_string(num_domains) +
                      " selected domains of '" + d.name +
                      "' (domainIncremental groups whole consecutive domains)");
  }
  const int64_t per_group = num_domains / c.num_partitions;
  std::vector<int64_t> group_of(static_cast<std::size_t>(known), -1);
  for (int64_t k = 0; k < num_domains; ++k) group_of[order[k]] = k / per_group;
  std::vector<std::vector<int64_t>> members(static_cast<std::size_t>(c.num_partitions));
  std::vector<int64_t> held_out_rows;
  const int64_t* ids = ids_tensor.data_ptr<int64_t>();
  for (int64_t i = 0; i < d.size(); ++i) {
    if (group_of[ids[i]] >= 0) members[group_of[ids[i]]].push_back(i);
    if (std::find(held_out.begin(), held_out.end(), ids[i]) != held_out.end()) {
      held_out_rows.push_back(i);
    }
  }
  std::vector<Domain> domains;
  for (int64_t g = 0; g < c.num_partitions; ++g) {
    std::string name;
    for (int64_t k = g * per_group; k < (g + 1) * per_group; ++k) {
      name += (name.empty() ? "" : "+") + d.domain_names[order[k]];
    }
    if (!held_out.empty()) {
      // Held-out protocol: every training sample of the group is trained on; every group is
      // evaluated on the same held-out domains.
      if (members[g].empty() || held_out_rows.empty()) {
        throw DataError("domain '" + name + "' or the test_settings domains of '" + d.name +
                        "' have no samples");
      }
      domains.push_back({name, d.images, d.labels, data::index_tensor(members[g]),
                         data::index_tensor(held_out_rows)});
      continue;
    }
    auto [train, test] = split_domain(
        d, std::move(members[g]), c,
        mix_seed(static_cast<uint64_t>(c.seeds.partition), {static_cast<uint64_t>(g)}), name);
    domains.push_back({name, d.images, d.labels, train, test});
  }
  return domains;
}

}  // namespace moedil::partition
