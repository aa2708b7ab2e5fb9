#pragma once
// Whether CPU autocast is on, on LibTorch 1.13 and 2.x alike (2.4 made autocast per device
// type and deprecated at::autocast::is_cpu_enabled). moedil's own CPU kernels (linear layers,
// evaluation shared over threads) step aside while it is on.
#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace moedil::model {

inline bool cpu_autocast_enabled() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

}  // namespace moedil::model
