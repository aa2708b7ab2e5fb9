#include "moedil/common/process_clock.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace moedil {

std::optional<unsigned long long> start_ticks_from_stat(std::string_view stat_line) {
  const std::size_t close = stat_line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After "pid (comm)": field 3 (state) onward; the start time is field 22.
  std::string_view rest = stat_line.substr(close + 1);
  for (int field = 3; field <= 22; ++field) {
    const std::size_t begin = rest.find_first_not_of(' ');
    if (begin == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(begin);
    const std::size_t end = std::min(rest.find(' '), rest.size());
    if (field == 22) {
      const std::string value(rest.substr(0, end));
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
      }
      return std::strtoull(value.c_str(), nullptr, 10);
    }
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

std::optional<double> seconds_since_process_start() {
  std::ifstream stat("/proc/self/stat");
  std::ifstream uptime("/proc/uptime");
  if (!stat || !uptime) return std::nullopt;
  const std::string line((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  double up = 0.0;
  if (!(uptime >> up)) return std::nullopt;
  const std::optional<unsigned long long> ticks = start_ticks_from_stat(line);
  const long per_second = sysconf(_SC_CLK_TCK);
  if (!ticks || per_second <= 0) return std::nullopt;
  const double since = up - static_cast<double>(*ticks) / static_cast<double>(per_second);
  return since < 0.0 ? 0.0 : since;
}

}  // namespace moedil
