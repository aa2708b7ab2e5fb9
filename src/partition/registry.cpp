#include "moedil/partition/registry.h"

#include "moedil/partition/domain_incremental.h"
#include "moedil/partition/rotate.h"

namespace moedil::partition {

const Registry<Partitioner>& partition_registry() {
  static const Registry<Partitioner> registry = [] {
    Registry<Partitioner> r("partition type");
    r.add("rotate",
          "one domain per partition.angles entry (degrees), the same images rotated; one "
          "train/test split shared by all domains",
          rotate_domains);
    r.add("domainIncremental",
          "whole domains from the dataset's domain ids, grouped into num_partitions in id order",
          domain_incremental_domains);
    return r;
  }();
  return registry;
}

std::vector<Domain> make_domains(const data::Dataset& d, const config::RunConfig& c) {
  return partition_registry().get(c.partition.type).build(d, c);
}

}  // namespace moedil::partition
