#include "moedil/common/cpu_count.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace moedil {

namespace {

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// ceil(quota / period) CPUs, nullopt for no quota or nonsense.
std::optional<int64_t> cpus_of(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  return std::max<int64_t>(1, (quota + period - 1) / period);
}

/// cgroup v2 cpu.max: "max 100000" (no quota) or "150000 100000".
std::optional<int64_t> from_cpu_max(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max") return std::nullopt;
  try {
    return cpus_of(std::stoll(quota), period);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<long long> read_number(const std::string& path) {
  const auto text = read_small_file(path);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  long long v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int64_t> cgroup_cpu_limit(const std::string& root, const std::string& self_cgroup) {
  // v2: the line "0::/path"; v1: a line "N:...cpu...:/path" for the cpu controller.
  std::string v2_path;
  std::string v1_path;
  std::istringstream lines(self_cgroup);
  for (std::string line; std::getline(lines, line);) {
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (line.compare(0, first, "0") == 0 && controllers.empty()) v2_path = path;
    std::istringstream names(controllers);
    for (std::string name; std::getline(names, name, ',');) {
      if (name == "cpu") v1_path = path;
    }
  }
  // The lowest quota from the process's own cgroup up to the root (a quota may be set on any
  // ancestor): cgroup v2 when its files are there, else v1's cpu controller.
  const auto lowest = [](std::string path, const auto& read_at) {
    std::optional<int64_t> out;
    bool found = false;
    for (;;) {
      const std::optional<std::optional<int64_t>> here = read_at(path == "/" ? std::string() : path);
      if (here) {
        found = true;
        if (*here && (!out || **here < *out)) out = *here;
      }
      if (path.empty() || path == "/") break;
      const std::size_t slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
    return std::make_pair(found, out);
  };
  // Each reader: nullopt when the file is not there; a value (maybe "no quota") when it is.
  const auto v2 = lowest(v2_path.empty() ? "/" : v2_path,
                         [&root](const std::string& dir) -> std::optional<std::optional<int64_t>> {
                           const auto text = read_small_file(root + dir + "/cpu.max");
                           if (!text) return std::nullopt;
                           return from_cpu_max(*text);
                         });
  if (v2.first) return v2.second;
  const auto v1 = lowest(v1_path.empty() ? "/" : v1_path,
                         [&root](const std::string& dir) -> std::optional<std::optional<int64_t>> {
                           const auto quota = read_number(root + "/cpu" + dir + "/cpu.cfs_quota_us");
                           const auto period =
                               read_number(root + "/cpu" + dir + "/cpu.cfs_period_us");
                           if (!quota || !period) return std::nullopt;
                           return cpus_of(*quota, *period);
                         });
  return v1.second;
}

int64_t affinity_cpus() {
  int64_t cpus = 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) cpus = CPU_COUNT(&mask);
  if (cpus <= 0) cpus = static_cast<int64_t>(std::thread::hardware_concurrency());
  return std::max<int64_t>(1, cpus);
}

int64_t available_cpus() {
  const int64_t cpus = affinity_cpus();
  const auto self = read_small_file("/proc/self/cgroup");
  const auto limit = self ? cgroup_cpu_limit("/sys/fs/cgroup", *self) : std::nullopt;
  return limit ? std::max<int64_t>(1, std::min(cpus, *limit)) : cpus;
}

}  // namespace moedil
