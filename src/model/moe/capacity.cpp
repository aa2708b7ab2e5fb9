#include "moedil/model/moe/capacity.h"

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

namespace moedil::model::moe {

int64_t expert_capacity(double capacity_factor, int64_t rows, int64_t k, int64_t num_experts) {
  if (capacity_factor <= 0.0) return 0;
  TORCH_CHECK(num_experts > 0, "expert_capacity: num_experts must be > 0");
  const double c = capacity_factor * static_cast<double>(rows * k) / static_cast<double>(num_experts);
  // A tiny tolerance so that e.g. 1.25 * 8 / 2 is 5, not 6 from rounding noise.
  return static_cast<int64_t>(std::ceil(c - 1e-9));
}

Assignments token_choice(const at::Tensor& expert_idx, const at::Tensor& gates,
                         int64_t num_experts, int64_t capacity) {
  const int64_t rows = expert_idx.size(0);
  const int64_t k = expert_idx.size(1);
  Assignments a;
  a.rows = at::arange(rows, expert_idx.options()).repeat_interleave(k);
  a.experts = expert_idx.reshape({-1});
  a.gates = gates.reshape({-1});
  if (capacity <= 0) return a;
  // Position of each assignment in its expert's queue, in priority order (slot, then row).
  const at::Tensor slot_major = expert_idx.t().reshape({-1});
  const at::Tensor one_hot = at::one_hot(slot_major, num_experts);           // [k*R, E]
  const at::Tensor position =
      (one_hot.cumsum(0) - 1).gather(1, slot_major.unsqueeze(1)).squeeze(1);  // [k*R]
  const at::Tensor keep = position.lt(capacity).reshape({k, rows}).t().reshape({-1});
  const at::Tensor kept = keep.nonzero().squeeze(1);
  return {a.rows.index_select(0, kept), a.experts.index_select(0, kept),
          a.gates.index_select(0, kept)};
}

Assignments expert_choice(const at::Tensor& probs, int64_t capacity, const at::Tensor& available) {
  const int64_t rows = probs.size(0);
  const int64_t experts = probs.size(1);
  TORCH_CHECK(capacity > 0, "expert_choice: capacity must be > 0, got ", capacity);
  const int64_t c = std::min(capacity, rows);
  auto [values, idx] = probs.topk(c, 0);  // [C, E] each expert's best rows
  const auto long_options = probs.options().dtype(at::kLong);
  Assignments a;
  a.rows = idx.t().reshape({-1});
  a.experts = at::arange(experts, long_options).repeat_interleave(c);
  a.gates = values.t().reshape({-1});
  if (available.defined()) {
    const at::Tensor kept = available.to(probs.device()).repeat_interleave(c).nonzero().squeeze(1);
    a = {a.rows.index_select(0, kept), a.experts.index_select(0, kept),
         a.gates.index_select(0, kept)};
  }
  return a;
}

int64_t count_dropped_rows(const Assignments& assignments, int64_t rows) {
  if (rows == 0) return 0;
  return at::bincount(assignments.rows, {}, rows).eq(0).sum().item<int64_t>();
}

}  // namespace moedil::model::moe
