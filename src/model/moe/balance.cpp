#include "moedil/model/moe/balance.h"

namespace moedil::model::moe {

at::Tensor switch_balance_loss(const at::Tensor& probs, const at::Tensor& counts) {
  const int64_t num_experts = probs.size(1);
  if (probs.size(0) == 0) return probs.sum() * 0.0;  // no rows, nothing to balance
  const at::Tensor fraction = counts.to(probs.scalar_type()) / counts.sum().clamp_min(1);
  const at::Tensor mean_prob = probs.mean(0);
  return static_cast<double>(num_experts) * (fraction * mean_prob).sum();
}

}  // namespace moedil::model::moe
