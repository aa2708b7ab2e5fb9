#pragma once
// The one linear anneal of moedil: a value that moves from `start` to `end` over the first
// `epochs` epochs and stays at `end` afterwards. The balance-loss weight (router_balance_max ->
// router_balance_min over router_balance_anneal_epochs) and the image-level MoE's temperature
// and KL weight follow it.
#include <algorithm>
#include <cstdint>

namespace moedil {

struct LinearAnneal {
  double start = 0.0;
  double end = 0.0;
  int64_t epochs = 1;  ///< >= 1

  /// start + (end - start) * min(max(epoch, 0), epochs) / epochs.
  double at(int64_t epoch) const {
    const double progress =
        static_cast<double>(std::min(std::max<int64_t>(epoch, 0), epochs)) /
        static_cast<double>(epochs);
    return start + (end - start) * progress;
  }
};

}  // namespace moedil
