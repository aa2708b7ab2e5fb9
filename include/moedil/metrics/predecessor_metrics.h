#pragma once
// The predecessor's final values of the three metrics it defined differently from moedil (its
// DIL_Logger.compute_metrics after the last domain), for side-by-side reports of ported
// experiments. R[i][j] is the accuracy on domain j after training domain i (T x T).
//   AIA           mean_{j<=T-1} R[T-1][j]: the accuracy on the domains seen after the last step,
//                 which equals ACC (moedil's AIA averages that over every step: iCaRL's)
//   FWT           mean_{j>0} (R[j-1][j] - baseline_acc[j]); none without baselines or when
//                 T < 2 (equals moedil's fwt_baseline)
//   intransigence baseline_acc[T-1] - R[T-1][T-1]: the last domain only; none without
//                 baselines (moedil averages over all domains)
#include <optional>
#include <vector>

#include "moedil/metrics/cl_metrics.h"

namespace moedil::metrics {

struct PredecessorMetrics {
  double aia = 0.0;
  std::optional<double> fwt;
  std::optional<double> intransigence;
};

/// Throws moedil::Error on the inputs compute_cl_metrics refuses (empty or non-square R,
/// non-finite values, a baseline_acc of another size than T).
PredecessorMetrics predecessor_metrics(const Matrix& R,
                                       const std::optional<std::vector<double>>& baseline_acc);

}  // namespace moedil::metrics
