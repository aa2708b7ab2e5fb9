#pragma once
// Domains from the dataset's own domain ids (sessions, styles, ...).
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// Groups the dataset's domains (in id order) into num_partitions consecutive groups of equal
/// size; each group is split into train and test (seeds.partition). Throws ConfigError when the
/// dataset has no domain ids or num_partitions does not divide the number of domains.
std::vector<Domain> domain_incremental_domains(const data::Dataset& d,
                                               const config::RunConfig& c);

}  // namespace moedil::partition
