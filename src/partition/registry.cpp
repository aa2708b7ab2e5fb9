#include "moedil/partition/registry.h"

#include "moedil/common/stop.h"

#include "moedil/partition/dirichlet.h"
#include "moedil/partition/domain_incremental.h"
#include "moedil/partition/noise.h"
#include "moedil/partition/permute.h"
#include "moedil/partition/random_partition.h"
#include "moedil/partition/rotate.h"
#include "moedil/partition/static_partition.h"

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
    r.add("dirichlet",
          "num_partitions label-skewed partitions: per class, Dirichlet(partition.alpha) "
          "proportions over the partitions (redrawn until each has partition.min_size samples; "
          "partition.balanced: equal sizes)",
          dirichlet_domains);
    r.add("static", "a seeded shuffle of all samples cut into num_partitions equal chunks",
          static_domains);
    r.add("random_assignment",
          "every sample in a uniformly random one of num_partitions partitions (\"random\" is "
          "the predecessor's name of static)",
          random_domains);
    r.add("permute",
          "one domain per partition, the same images under a fixed pixel permutation (the "
          "first unpermuted); one train/test split shared by all domains",
          permute_domains);
    r.add("noise",
          "one domain per partition.levels entry, the same images plus Gaussian noise of that "
          "std (on the [0, 1] scale); one train/test split shared by all domains",
          noise_domains);
    return r;
  }();
  return registry;
}

std::vector<Domain> make_domains(const data::Dataset& d, const config::RunConfig& c) {
  throw_if_stopped("partitioning the dataset");
  return partition_registry().get(c.partition.type).build(d, c);
}

}  // namespace moedil::partition
