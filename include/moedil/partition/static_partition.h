#pragma once
// Index partitions of one dataset: a seeded shuffle cut into equal contiguous chunks.
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// Shuffles all rows of d (a permutation drawn from seeds.partition) and cuts the shuffled order
/// into c.num_partitions contiguous chunks "p0".."p{P-1}": every chunk has floor(N / P) rows and
/// the first N mod P chunks one more. Labels and domain ids play no part. Each chunk is split
/// into train and test by split_domain (seed mixed from seeds.partition and the chunk index);
/// domains share d.images and d.labels. Throws ConfigError when num_partitions < 1 and DataError
/// when the dataset has fewer rows than partitions.
std::vector<Domain> static_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
