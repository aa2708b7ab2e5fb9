#include "moedil/model/moe/balance.h"

#include <c10/util/Exception.h>

#include "moedil/common/suggest.h"

namespace moedil::model::moe {
namespace {

/// var(x) / mean(x)^2 with the population variance; 0 when the mean is 0.
at::Tensor cv_squared(const at::Tensor& x) {
  const at::Tensor mean = x.mean();
  const at::Tensor var = (x - mean).pow(2).mean();
  return var / mean.pow(2).clamp_min(1e-12);
}

}  // namespace

at::Tensor switch_balance_loss(const at::Tensor& probs, const at::Tensor& counts) {
  const int64_t num_experts = probs.size(1);
  if (probs.size(0) == 0) return probs.sum() * 0.0;  // no rows, nothing to balance
  const at::Tensor fraction = counts.to(probs.scalar_type()) / counts.sum().clamp_min(1);
  const at::Tensor mean_prob = probs.mean(0);
  return static_cast<double>(num_experts) * (fraction * mean_prob).sum();
}

at::Tensor mean_prob_mse_loss(const at::Tensor& probs) {
  if (probs.size(0) == 0) return probs.sum() * 0.0;
  const double uniform = 1.0 / static_cast<double>(probs.size(1));
  return (probs.mean(0) - uniform).pow(2).mean();
}

at::Tensor importance_load_loss(const at::Tensor& probs, const at::Tensor& counts) {
  if (probs.size(0) == 0) return probs.sum() * 0.0;
  return cv_squared(probs.sum(0)) + cv_squared(counts.to(probs.scalar_type()));
}

at::Tensor entropy_loss(const at::Tensor& probs) {
  if (probs.size(0) == 0) return probs.sum() * 0.0;
  return -at::xlogy(probs, probs).sum(1).mean();
}

at::Tensor column_entropy_loss(const at::Tensor& probs) {
  if (probs.size(0) == 0) return probs.sum() * 0.0;
  const at::Tensor mean_prob = probs.mean(0);
  return at::xlogy(mean_prob, mean_prob).sum();
}

at::Tensor output_variance_loss(const at::Tensor& expert_means) {
  if (expert_means.size(0) < 2) return expert_means.sum() * 0.0;  // nothing to compare
  const at::Tensor centre = expert_means.mean(0, /*keepdim=*/true);
  return (expert_means - centre).pow(2).mean(0).mean();
}

at::Tensor z_loss(const at::Tensor& logits) {
  if (logits.size(0) == 0) return logits.sum() * 0.0;
  return at::logsumexp(logits, 1).pow(2).mean();
}

const Registry<BalanceLoss>& balance_loss_registry() {
  static const Registry<BalanceLoss> registry = [] {
    Registry<BalanceLoss> r("balance loss");
    r.add("switch",
          "Switch Transformer: E * sum_e f_e * P_e (routed fraction times mean probability); 1 "
          "when uniform",
          {[](const BalanceInputs& in) { return switch_balance_loss(in.probs, in.counts); }});
    r.add("mean_prob_mse",
          "the predecessor's router balance loss: mean over experts of (P_e - 1/E)^2, P_e the "
          "mean router probability of expert e; 0 when uniform",
          {[](const BalanceInputs& in) { return mean_prob_mse_loss(in.probs); }});
    r.add("importance_load",
          "cv^2 of the summed router probabilities plus cv^2 of the assignment counts "
          "(Shazeer et al. 2017); 0 when uniform",
          {[](const BalanceInputs& in) { return importance_load_loss(in.probs, in.counts); }});
    r.add("entropy", "mean routing entropy per row: lower is more decisive",
          {[](const BalanceInputs& in) { return entropy_loss(in.probs); }});
    r.add("column_entropy",
          "negative entropy of the mean routing distribution; minimal (-log E) when experts are "
          "used uniformly",
          {[](const BalanceInputs& in) { return column_entropy_loss(in.probs); }});
    r.add("output_variance",
          "variance of the experts' mean outputs across the experts that ran (0 with fewer "
          "than 2)",
          {[](const BalanceInputs& in) {
             return in.expert_means.defined() ? output_variance_loss(in.expert_means)
                                              : in.probs.sum() * 0.0;
           },
           /*needs_expert_means=*/true});
    r.add("z_loss", "router z-loss (ST-MoE): mean squared logsumexp of the router logits",
          {[](const BalanceInputs& in) { return z_loss(in.logits); }});
    return r;
  }();
  return registry;
}

bool needs_expert_means(const std::map<std::string, double>& weights) {
  for (const auto& item : weights) {
    const auto* entry = balance_loss_registry().find(item.first);
    if (entry && entry->build.needs_expert_means) return true;
  }
  return false;
}

at::Tensor weighted_balance_loss(const std::map<std::string, double>& weights,
                                 const at::Tensor& probs, const at::Tensor& counts,
                                 const at::Tensor& logits, const at::Tensor& expert_means) {
  const BalanceInputs inputs{probs, counts, logits, expert_means};
  at::Tensor total;
  for (const auto& [name, weight] : weights) {
    const auto* entry = balance_loss_registry().find(name);
    TORCH_CHECK(entry != nullptr, unknown_name_message("balance loss", name,
                                                       balance_loss_registry().names()));
    at::Tensor loss = entry->build.compute(inputs);
    if (weight != 1.0) loss = loss * weight;
    total = total.defined() ? total + loss : loss;
  }
  return total.defined() ? total : probs.sum() * 0.0;
}

}  // namespace moedil::model::moe
