#pragma once
// Load-balancing losses for routers.
#include <ATen/ATen.h>

namespace moedil::model::moe {

/// Switch Transformer balance loss: E * sum_e f_e * P_e, with f_e the fraction of the R*k
/// assignments that went to expert e (no gradient) and P_e the mean router probability of e.
/// 1 when routing is uniform, up to E when one expert takes everything.
/// probs [R, E]; counts int64 [E] (assignments per expert).
at::Tensor switch_balance_loss(const at::Tensor& probs, const at::Tensor& counts);

}  // namespace moedil::model::moe
