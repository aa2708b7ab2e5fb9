#pragma once
// The anneal schedules of moedil: a value that moves from `start` to `end` over the first
// `epochs` epochs and stays at `end` afterwards, linearly (the image-level MoE's temperature and
// KL weight; the balance weight's "linear_per_domain" schedule) or along half a cosine (the
// balance weight's "cosine" schedule, the predecessor's).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace moedil {

/// How far `epoch` is into an anneal of `epochs` epochs: min(max(epoch, 0), epochs) / epochs.
inline double anneal_progress(int64_t epoch, int64_t epochs) {
  return static_cast<double>(std::min(std::max<int64_t>(epoch, 0), epochs)) /
         static_cast<double>(epochs);
}

struct LinearAnneal {
  double start = 0.0;
  double end = 0.0;
  int64_t epochs = 1;  ///< >= 1

  /// start + (end - start) * min(max(epoch, 0), epochs) / epochs.
  double at(int64_t epoch) const { return start + (end - start) * anneal_progress(epoch, epochs); }
};

/// The cosine anneal: from `start` at epoch 0 to `end` at `epochs` and after, along half a
/// cosine: end + (start - end) (1 + cos(pi min(max(epoch, 0), epochs) / epochs)) / 2. The
/// balance-loss weight's "cosine" schedule (router_balance_schedule) follows it.
struct CosineAnneal {
  double start = 0.0;
  double end = 0.0;
  int64_t epochs = 1;  ///< >= 1

  double at(int64_t epoch) const {
    return end + (start - end) * 0.5 * (1.0 + std::cos(kPi * anneal_progress(epoch, epochs)));
  }
  static constexpr double kPi = 3.14159265358979323846;
};

}  // namespace moedil
