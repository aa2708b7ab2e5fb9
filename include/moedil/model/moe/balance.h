#pragma once
// Load-balancing losses for routers, each selectable with a weight (model.moe_balance_losses).
// probs [R, E] router probabilities; counts int64 [E] assignments per expert (no gradient);
// logits [R, E] router logits.
#include <functional>
#include <map>
#include <string>

#include <ATen/ATen.h>

#include "moedil/common/registry.h"

namespace moedil::model::moe {

/// What a balance loss sees of one training step of one MoE layer.
struct BalanceInputs {
  at::Tensor probs;   ///< [R, E] router probabilities
  at::Tensor counts;  ///< int64 [E] assignments per expert as routed (no gradient)
  at::Tensor logits;  ///< [R, E] router logits
  /// [U, F] mean output of each expert that ran (see output_variance_loss); collected only
  /// when a selected loss needs_expert_means, and undefined when no expert ran.
  at::Tensor expert_means;
};

/// A selectable balance loss: a scalar from the inputs, differentiable where they are.
struct BalanceLoss {
  std::function<at::Tensor(const BalanceInputs&)> compute;
  /// The layer must collect BalanceInputs::expert_means (costs a mean per expert and step).
  bool needs_expert_means = false;
};

/// The balance losses (`model.moe_balance_losses` names), with descriptions for `moedil list`;
/// config validation takes its names from here (through train::name_catalog()). To add one,
/// add an entry in balance.cpp (and a test in tests/model/moe/balance_test.cpp).
const Registry<BalanceLoss>& balance_loss_registry();

/// Whether any loss named in `weights` needs BalanceInputs::expert_means (unknown names: no).
bool needs_expert_means(const std::map<std::string, double>& weights);

/// The predecessor's router balance loss: mean over the experts of (P_e - 1/E)^2, with P_e the
/// mean probability of expert e over the R rows (its default under router_balancing). 0 when
/// the mean routing is uniform; differentiable in probs.
at::Tensor mean_prob_mse_loss(const at::Tensor& probs);

/// Switch Transformer balance loss: E * sum_e f_e * P_e, with f_e the fraction of the R*k
/// assignments that went to expert e (no gradient) and P_e the mean router probability of e.
/// 1 when routing is uniform, up to E when one expert takes everything.
/// probs [R, E]; counts int64 [E] (assignments per expert).
at::Tensor switch_balance_loss(const at::Tensor& probs, const at::Tensor& counts);

/// cv^2(importance) + cv^2(load) (Shazeer et al. 2017): importance_e = sum_r probs[r, e],
/// load_e = counts[e] (hard counts: no gradient); cv^2(x) = var(x) / mean(x)^2 with the
/// population variance (divide by E). 0 when both are uniform.
at::Tensor importance_load_loss(const at::Tensor& probs, const at::Tensor& counts);

/// Mean over rows of the routing entropy -sum_e p log p (0 log 0 = 0): lower is more decisive.
at::Tensor entropy_loss(const at::Tensor& probs);

/// Negative entropy of the mean routing distribution P = mean_r probs[r]: sum_e P_e log P_e.
/// Minimal (-log E) when the experts are used uniformly on average.
at::Tensor column_entropy_loss(const at::Tensor& probs);

/// Variance of the expert outputs: expert_means [U, F] holds, for each of the U experts that
/// ran, the mean over its rows of its (flattened) output; the loss is the population variance
/// over the U experts, averaged over the F features. 0 with fewer than 2 experts.
at::Tensor output_variance_loss(const at::Tensor& expert_means);

/// Router z-loss (ST-MoE): mean over rows of logsumexp_e(logits)^2.
at::Tensor z_loss(const at::Tensor& logits);

/// sum over `weights` of weight * loss; names from balance_loss_registry(). A weight of
/// exactly 1 adds the loss as is. Unknown names throw c10::Error suggesting the closest. Empty
/// weights give 0.
/// expert_means as for output_variance_loss (undefined: output_variance contributes 0).
at::Tensor weighted_balance_loss(const std::map<std::string, double>& weights,
                                 const at::Tensor& probs, const at::Tensor& counts,
                                 const at::Tensor& logits, const at::Tensor& expert_means = {});

}  // namespace moedil::model::moe
