#pragma once
// Which (row, expert) assignments are run: token choice with an optional expert capacity
// (assignments over capacity are dropped), or expert choice (each expert takes its top-C rows).
// A row left without any assignment is dropped: the layer adds nothing for it, so it passes
// through the block's residual unchanged.
#include <ATen/ATen.h>

namespace moedil::model::moe {

/// A list of A assignments.
struct Assignments {
  at::Tensor rows;     ///< int64 [A]
  at::Tensor experts;  ///< int64 [A]
  at::Tensor gates;    ///< [A] weight of the expert's output for that row
};

/// C = ceil(capacity_factor * rows * k / num_experts); 0 (unlimited) when capacity_factor <= 0.
int64_t expert_capacity(double capacity_factor, int64_t rows, int64_t k, int64_t num_experts);

/// Token choice: each row's k chosen experts (expert_idx, gates [R, k]), keeping at most
/// `capacity` assignments per expert (capacity <= 0: all). Priority goes to first choices over
/// second choices, then to earlier rows (as in GShard). Kept gates are not renormalised.
/// The result is in row-major order.
Assignments token_choice(const at::Tensor& expert_idx, const at::Tensor& gates,
                         int64_t num_experts, int64_t capacity);

/// Expert choice: every available expert takes the min(capacity, R) rows with the highest
/// probability for it (probs [R, E]); its gate for a row is that probability. A row may go to
/// several experts or to none. available bool [E] (undefined: all available).
Assignments expert_choice(const at::Tensor& probs, int64_t capacity,
                          const at::Tensor& available = {});

/// Rows (out of `rows`) that receive no assignment.
int64_t count_dropped_rows(const Assignments& assignments, int64_t rows);

}  // namespace moedil::model::moe
