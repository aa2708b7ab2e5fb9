#include "moedil/common/stop.h"

#include <string>

#include "moedil/common/error.h"

namespace moedil {

std::atomic<int>& stop_flag() {
  static std::atomic<int> flag{0};
  return flag;
}

void throw_if_stopped(std::string_view doing) {
  const int signal = stop_flag().load(std::memory_order_relaxed);
  if (signal == 0) return;
  throw InterruptedError(
      "interrupted while " + std::string(doing) + (signal == 15 ? " (SIGTERM)" : ""),
      signal == 15 ? 15 : 2);
}

}  // namespace moedil
