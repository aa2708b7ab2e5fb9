#include "moedil/metrics/predecessor_metrics.h"

namespace moedil::metrics {

PredecessorMetrics predecessor_metrics(const Matrix& R,
                                       const std::optional<std::vector<double>>& baseline_acc) {
  // The same checks (and the same FWT against the baselines) as moedil's metrics.
  const ClMetrics m =
      compute_cl_metrics(R, std::vector<double>(R.size(), 0.0), baseline_acc);
  PredecessorMetrics p;
  p.aia = m.acc;
  p.fwt = m.fwt_baseline;
  if (baseline_acc) {
    const std::size_t last = R.size() - 1;
    p.intransigence = (*baseline_acc)[last] - R[last][last];
  }
  return p;
}

}  // namespace moedil::metrics
