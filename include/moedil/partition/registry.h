#pragma once
// Partitioner registry: config `partition.type` -> function splitting a dataset into domains.
#include <functional>
#include <vector>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

using Partitioner =
    std::function<std::vector<Domain>(const data::Dataset&, const config::RunConfig&)>;

/// Every registered partitioner (rotate, domainIncremental, dirichlet, static,
/// random_assignment, permute, noise).
const Registry<Partitioner>& partition_registry();

/// The configured partitioner applied to d. Throws ConfigError when the dataset and the
/// partition settings do not fit together.
std::vector<Domain> make_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
