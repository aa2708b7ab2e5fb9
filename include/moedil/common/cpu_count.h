#pragma once
// How many CPUs this process may use: what a run's default thread count follows. The machine's
// core count is wrong wherever the process is confined: `taskset`, Slurm's CPU binding or a
// cpuset limit the CPUs it may run on (its affinity mask), and a container's CPU quota
// (`docker --cpus`, a cgroup's cpu.max) limits how much CPU time it gets. More OpenMP threads
// than that only wait for each other. Torch-free.
#include <cstdint>
#include <optional>
#include <string>

namespace moedil {

/// The CPUs in this thread's affinity mask (the machine's count when it cannot be read); at
/// least 1.
int64_t affinity_cpus();

/// affinity_cpus(), lowered to a cgroup CPU quota when one is set (rounded up); at least 1.
int64_t available_cpus();

/// The CPUs a cgroup quota allows, from the cgroup file system under `root` (normally
/// "/sys/fs/cgroup") and `self_cgroup`, the text of /proc/self/cgroup: cgroup v2's cpu.max
/// ("QUOTA PERIOD" or "max PERIOD") in the process's own cgroup or the root one, else v1's
/// cpu.cfs_quota_us / cpu.cfs_period_us (-1: none). nullopt when there is no quota or the files
/// cannot be read.
std::optional<int64_t> cgroup_cpu_limit(const std::string& root, const std::string& self_cgroup);

}  // namespace moedil
