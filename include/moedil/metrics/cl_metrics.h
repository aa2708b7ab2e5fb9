#pragma once
// Continual-learning metrics computed from an accuracy matrix R, where R[i][j] is the accuracy
// (a fraction in [0, 1]) on domain j after training on domain i, for T domains (R is T x T).
#include <optional>
#include <string>
#include <vector>

namespace moedil::metrics {

/// Dense row-major matrix of doubles, indexed [row][col].
using Matrix = std::vector<std::vector<double>>;

/// Summary continual-learning metrics for one run. Optional fields are nullopt when the metric
/// is undefined for the inputs (T < 2, or no baseline given).
struct ClMetrics {
  /// Final average accuracy: mean_j R[T-1][j].
  double acc = 0.0;
  /// Average incremental accuracy: mean_i (mean_{j<=i} R[i][j]).
  double aia = 0.0;
  /// Plasticity: mean_i R[i][i] (accuracy on each domain right after learning it).
  double plasticity = 0.0;
  /// Backward transfer: mean_{j<T-1} (R[T-1][j] - R[j][j]); nullopt when T < 2.
  std::optional<double> bwt;
  /// Forward transfer as defined by GEM (Lopez-Paz & Ranzato 2017): mean_{j>0}
  /// (R[j-1][j] - init_acc[j]), against the accuracy before any training, whether or not
  /// baselines ran; nullopt when T < 2.
  std::optional<double> fwt;
  /// Forward transfer against the baselines (a model trained on domain j alone):
  /// mean_{j>0} (R[j-1][j] - baseline_acc[j]); nullopt when T < 2 or no baseline is given.
  std::optional<double> fwt_baseline;
  /// Average forgetting: mean of forgetting_per_domain; nullopt when T < 2.
  std::optional<double> forgetting;
  /// Intransience: mean_j (baseline_acc[j] - R[j][j]); nullopt when no baseline is given.
  std::optional<double> intransience;
  /// forgetting_j = max_{i<T-1} R[i][j] - R[T-1][j] for j < T-1 (size T-1; empty when T == 1).
  /// Project definition: the max runs over ALL rows i < T-1, including rows i < j recorded
  /// before domain j was trained, so a domain whose accuracy was higher before it was learned
  /// (e.g. by transfer) than at the end counts that drop as forgetting too.
  std::vector<double> forgetting_per_domain;
};

/// Computes all continual-learning metrics from the accuracy matrix `R` (T x T).
/// `init_acc[j]` is the accuracy on domain j before any training (size T); `baseline_acc[j]`,
/// when given, is a reference accuracy on domain j (e.g. a model trained on j alone, size T).
/// Throws moedil::Error if R is empty or not square, if init_acc or baseline_acc has a size
/// other than T, or if any input value is not finite.
ClMetrics compute_cl_metrics(const Matrix& R, const std::vector<double>& init_acc,
                             const std::optional<std::vector<double>>& baseline_acc);

/// One-line human-readable summary with 4 decimals, "n/a" for undefined metrics, e.g.
/// "ACC 0.8123 AIA 0.8500 BWT -0.0312 FWT 0.0100 FWT_baseline n/a forgetting 0.0400
/// plasticity 0.8400 intransience n/a".
std::string to_string(const ClMetrics& m);

}  // namespace moedil::metrics
