#pragma once
// Sparse grouped dispatch: sort the (row, expert) assignments by expert, run each expert once on
// exactly its rows, scatter the gated outputs back. Never every expert on every row.
#include <functional>

#include <ATen/ATen.h>

namespace moedil::model::moe {

/// Runs expert `e` on rows [n, ...] and returns [n, ...out].
using ExpertFn = std::function<at::Tensor(int64_t expert, const at::Tensor& rows)>;

/// out[r] = sum_j gates[r, j] * expert(expert_idx[r, j], x[r]).
/// x [R, ...]; expert_idx, gates [R, k]. Each expert is called at most once. Differentiable in x,
/// gates and the experts' parameters. With R = 0, expert 0 is called once on the empty x to give
/// the output its width. If `counts` is given it receives the number of
/// assignments per expert (int64 [num_experts], on x's device).
at::Tensor sparse_dispatch(const at::Tensor& x, const at::Tensor& expert_idx,
                           const at::Tensor& gates, int64_t num_experts, const ExpertFn& expert,
                           at::Tensor* counts = nullptr);

/// The same on an explicit list of A assignments: out[r] = sum over assignments a with
/// rows[a] = r of gates[a] * expert(experts[a], x[r]). rows, experts int64 [A]; gates [A].
/// Rows without an assignment get 0 (with no assignment at all, expert 0 is called once on no
/// rows to learn the output width). sparse_dispatch is this on the row-major flattened
/// [R, k] routing.
at::Tensor dispatch_assignments(const at::Tensor& x, const at::Tensor& rows,
                                const at::Tensor& experts, const at::Tensor& gates,
                                int64_t num_experts, const ExpertFn& expert,
                                at::Tensor* counts = nullptr);

/// Reference for tests: every expert on every row, masked by the gates. Same result as
/// sparse_dispatch, E times the work.
at::Tensor dense_dispatch(const at::Tensor& x, const at::Tensor& expert_idx,
                          const at::Tensor& gates, int64_t num_experts, const ExpertFn& expert);

}  // namespace moedil::model::moe
