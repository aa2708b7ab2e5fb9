#include "moedil/common/cpu_count.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace moedil {
namespace {

namespace fs = std::filesystem;

/// A fake cgroup file system in a fresh temp dir.
class FakeCgroup {
 public:
  FakeCgroup() : root_(fs::temp_directory_path() / ("moedil_cgroup_" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~FakeCgroup() { fs::remove_all(root_); }
  void write(const std::string& relative, const std::string& text) const {
    const fs::path path = root_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string root() const { return root_.string(); }

 private:
  fs::path root_;
};

TEST(CgroupCpuLimit, V2QuotaRoundsUpAndMaxMeansNone) {
  const FakeCgroup cg;
  cg.write("cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/\n"), std::nullopt);
  cg.write("cpu.max", "150000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/\n"), 2);
  cg.write("cpu.max", "50000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/\n"), 1);
}

// A quota on an ancestor of the process's cgroup counts; the lowest one wins.
TEST(CgroupCpuLimit, V2TheLowestQuotaFromTheProcessUpToTheRoot) {
  const FakeCgroup cg;
  cg.write("cpu.max", "max 100000\n");
  cg.write("job/cpu.max", "300000 100000\n");
  cg.write("job/step/cpu.max", "max 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/job/step\n"), 3);
  cg.write("job/step/cpu.max", "100000 100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/job/step\n"), 1);
}

TEST(CgroupCpuLimit, V1CpuControllerQuota) {
  const FakeCgroup cg;
  const std::string self = "4:memory:/x\n3:cpu,cpuacct:/box\n0::/\n";
  cg.write("cpu/cpu.cfs_quota_us", "-1\n");
  cg.write("cpu/cpu.cfs_period_us", "100000\n");
  cg.write("cpu/box/cpu.cfs_quota_us", "-1\n");
  cg.write("cpu/box/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), self), std::nullopt);
  cg.write("cpu/box/cpu.cfs_quota_us", "250000\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), self), 3);
}

TEST(CgroupCpuLimit, NothingReadableIsNoLimit) {
  const FakeCgroup cg;
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/\n"), std::nullopt);
  EXPECT_EQ(cgroup_cpu_limit(cg.root() + "/missing", "garbage"), std::nullopt);
  cg.write("cpu.max", "lots\n");
  EXPECT_EQ(cgroup_cpu_limit(cg.root(), "0::/\n"), std::nullopt);
}

// The affinity mask counts: confined to one CPU (as by taskset or Slurm), one is available.
TEST(AvailableCpus, FollowsTheAffinityMask) {
  cpu_set_t before;
  CPU_ZERO(&before);
  ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
  EXPECT_GE(available_cpus(), 1);
  EXPECT_LE(available_cpus(), CPU_COUNT(&before));
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int64_t confined = available_cpus();
  ASSERT_EQ(sched_setaffinity(0, sizeof before, &before), 0);
  EXPECT_EQ(confined, 1);
}

}  // namespace
}  // namespace moedil
