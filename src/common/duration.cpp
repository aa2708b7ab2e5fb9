#include "moedil/common/duration.h"

#include <cmath>
#include <cstdio>

namespace moedil {

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0)) return "-";
  const long total = std::lround(seconds);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
  } else if (total >= 60) {
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lds", total);
  }
  return buffer;
}

}  // namespace moedil
