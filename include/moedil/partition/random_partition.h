#pragma once
// Index partitions of one dataset: every row assigned to a uniformly random partition.
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// Assigns every row of d, independently, to one of c.num_partitions partitions
/// "p0".."p{P-1}" drawn uniformly (uniform_below on an mt19937_64 seeded from seeds.partition),
/// so partition sizes vary around N / P. Labels and domain ids play no part. Each partition is
/// split into train and test by split_domain (seed mixed from seeds.partition and the partition
/// index); domains share d.images and d.labels. Throws ConfigError when num_partitions < 1 and
/// DataError when a partition receives no rows.
std::vector<Domain> random_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
