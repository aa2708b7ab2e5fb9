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

at::Tensor weighted_balance_loss(const std::map<std::string, double>& weights,
                                 const at::Tensor& probs, const at::Tensor& counts,
                                 const at::Tensor& logits, const at::Tensor& expert_means) {
  at::Tensor total;
  for (const auto& [name, weight] : weights) {
    at::Tensor loss;
    if (name == "switch") {
      loss = switch_balance_loss(probs, counts);
    } else if (name == "importance_load") {
      loss = importance_load_loss(probs, counts);
    } else if (name == "entropy") {
      loss = entropy_loss(probs);
    } else if (name == "column_entropy") {
      loss = column_entropy_loss(probs);
    } else if (name == "output_variance") {
      loss = expert_means.defined() ? output_variance_loss(expert_means) : probs.sum() * 0.0;
    } else if (name == "z_loss") {
      loss = z_loss(logits);
    } else {
      TORCH_CHECK(false, unknown_name_message("balance loss", name, balance_loss_names()));
    }
    if (weight != 1.0) loss = loss * weight;
    total = total.defined() ? total + loss : loss;
  }
  return total.defined() ? total : probs.sum() * 0.0;
}

}  // namespace moedil::model::moe
