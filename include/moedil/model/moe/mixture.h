#pragma once
// The routing core every MoE layer shares, whatever its experts are (MLPs, convolutions,
// residual blocks, whole ViT towers, experts of different architectures) and whatever its
// router is (linear, cosine to EMA centroids, EMA prototypes). Given a Routing of R rows and the
// rows themselves it applies token choice (optionally with a capacity, dropping overflow) or
// expert choice, runs the experts by sparse grouped dispatch, and keeps:
//  - the weighted balance losses of the last training forward;
//  - per-expert usage counts, dropped rows and summed routing entropy since the last reset
//    (training and evaluation apart; nothing is read back to the host until asked);
//  - per-expert selection counts of training forwards since reset_selection_counts() (expert
//    merging counts them per domain).
// A forced expert (moedil eval --fixed-expert) replaces the routing by that expert alone.
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/arg.h>

#include "moedil/model/moe/dispatch.h"
#include "moedil/model/moe/router.h"
#include "moedil/model/moe/usage_capture.h"

namespace moedil::model::moe {

/// Balance-loss name (see balance_loss_registry()) -> weight.
using BalanceWeights = std::map<std::string, double>;

struct MixtureOptions {
  explicit MixtureOptions(int64_t num_experts) : num_experts_(num_experts) {}
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(int64_t, top_k) = 1;
  /// "token_choice": each row takes its top-k experts; "expert_choice": each expert takes its
  /// top-C rows (every expert exactly C = min(C, rows)).
  TORCH_ARG(std::string, routing) = "token_choice";
  /// Expert capacity C = ceil(capacity_factor * rows * k / num_experts). 0: unlimited for
  /// token choice, factor 1 for expert choice. Rows left with no expert get 0 from the mixture.
  TORCH_ARG(double, capacity_factor) = 0.0;
  /// The balance losses summed into balance_loss(), each with its weight.
  TORCH_ARG(BalanceWeights, balance_losses) = BalanceWeights{{"switch", 1.0}};
  /// A forced expert (force_expert) gets gate 1 even with top-1, for routers whose top-1 gate is
  /// 1 (renormalised gates, hard routing); false: its router probability.
  TORCH_ARG(bool, unit_forced_gate) = false;
};

class Mixture {
 public:
  /// Throws c10::Error for an unknown routing, a negative capacity or an unknown balance loss.
  explicit Mixture(MixtureOptions options);

  /// out[r] = sum over the experts assigned to row r of gate * expert(e, rows[r]); 0 for rows
  /// with no assignment. routing over R rows (probs [R, E], expert_idx/gates [R, k]);
  /// rows [R, ...]. `training` selects the counters and whether a balance loss is kept.
  /// dense = true runs every expert on every row (a test reference, same result).
  /// An evaluation forward (training false) on a thread with a UsageCapture alive hands its
  /// counter updates to the capture and changes nothing here (see usage_capture.h); it is
  /// refused while recording.
  at::Tensor forward(const Routing& routing, const at::Tensor& rows, const ExpertFn& expert,
                     bool training, bool dense = false);

  /// Weighted balance losses of the last training forward; undefined after an evaluation one.
  const at::Tensor& balance_loss() const { return balance_loss_; }
  /// Rows assigned to each expert since the last reset_usage, in training or evaluation.
  std::vector<int64_t> usage(bool training) const;
  void reset_usage(bool training);
  /// Adds one forward's updates to the training or evaluation counters, as that forward would
  /// have (what the evaluator does with a UsageCapture's entries); an evaluation update also
  /// leaves balance_loss() undefined, as the evaluation forward does.
  void add_usage(bool training, const UsageDelta& delta);
  /// Fraction of the rows since the last reset that went to no expert; 0 with no rows.
  double dropped_fraction(bool training) const;
  /// Mean entropy (nats) of the router's distribution per row since the last reset; 0 with
  /// no rows.
  double routing_entropy(bool training) const;

  /// Training assignments per expert since the last reset_selection_counts (int64 [E] on the
  /// rows' device; CPU zeros before any): what expert merging ranks experts by.
  at::Tensor selection_counts() const;
  void reset_selection_counts();
  /// Restores counts saved from selection_counts() (a resumed run continues its domain's tally).
  void set_selection_counts(const at::Tensor& counts) { selection_ = counts; }

  /// Routes every row to expert `e` alone (-1: normal routing). The gate is the router's
  /// probability of e when top_k is 1, else 1; capacity does not apply. Throws UsageError for e
  /// outside [-1, num_experts).
  void force_expert(int64_t e);
  int64_t forced_expert() const { return forced_expert_; }

  /// While recording, every forward also keeps each row's gate per expert (float [R, E]: the
  /// weight with which expert e's output entered row r, 0 where e did not run for r): the
  /// routing that moedil eval --dump exports. Off by default (it costs an [R, E] tensor).
  void set_recording(bool on) { recording_ = on; }
  bool recording() const { return recording_; }
  /// The gates of the forwards since the last take, one tensor per forward, and forgets them.
  std::vector<at::Tensor> take_recorded();

  const MixtureOptions& options() const { return options_; }

 private:
  MixtureOptions options_;
  at::Tensor balance_loss_;
  at::Tensor counts_[2];       ///< [evaluation, training] assignments per expert
  at::Tensor entropy_sum_[2];  ///< [evaluation, training] summed per-row routing entropy
  at::Tensor dropped_[2];  ///< [evaluation, training] rows dropped, on the device
  int64_t rows_[2] = {0, 0};
  at::Tensor selection_;  ///< training assignments per expert since reset_selection_counts
  int64_t forced_expert_ = -1;
  bool recording_ = false;
  std::vector<at::Tensor> recorded_;
};

}  // namespace moedil::model::moe
