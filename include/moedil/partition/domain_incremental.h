#pragma once
// Domains from the dataset's own domain ids (sessions, styles, ...).
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// Groups the selected domains (`settings` in their order, else every domain in id order except
/// the `test_settings` ones) into num_partitions consecutive groups of equal size. Each group is
/// split into train and test by split_domain (test_split, train_frac, seeds.partition); with
/// test_settings, each group trains on all its samples and is evaluated on the held-out domains
/// (the CORe50 protocol). Throws ConfigError when the dataset has no domain ids, a setting is
/// not one of its domains, or num_partitions does not divide the number of selected domains.
/// Indices of the named domains, in the given order. A name matches a domain name exactly or
/// with an "s" prefix (CORe50 session 3 is "s3"). `key` names the config key in errors.
std::vector<int64_t> select_domains(const data::Dataset& d, const std::vector<std::string>& names,
                                    const std::string& key);

std::vector<Domain> domain_incremental_domains(const data::Dataset& d,
                                               const config::RunConfig& c);

}  // namespace moedil::partition
