#include "moedil/model/moe/dispatch.h"

#include <vector>

namespace moedil::model::moe {
namespace {

/// gates [n] viewed to broadcast against a tensor of rank `rank` ([n, 1, 1, ...]).
at::Tensor broadcastable(const at::Tensor& gates, int64_t rank) {
  std::vector<int64_t> shape(static_cast<std::size_t>(rank), 1);
  shape[0] = gates.size(0);
  return gates.reshape(shape);
}

}  // namespace

at::Tensor sparse_dispatch(const at::Tensor& x, const at::Tensor& expert_idx,
                           const at::Tensor& gates, int64_t num_experts, const ExpertFn& expert,
                           at::Tensor* counts) {
  const int64_t k = expert_idx.size(1);
  // Row of each assignment (row-major [R, k]).
  const at::Tensor rows = at::arange(x.size(0), expert_idx.options());
  const at::Tensor flat_row = k == 1 ? rows : rows.repeat_interleave(k);
  return dispatch_assignments(x, flat_row, expert_idx.reshape({-1}), gates.reshape({-1}),
                              num_experts, expert, counts);
}

at::Tensor dispatch_assignments(const at::Tensor& x, const at::Tensor& flat_row,
                                const at::Tensor& flat_expert, const at::Tensor& gates,
                                int64_t num_experts, const ExpertFn& expert, at::Tensor* counts) {
  const int64_t rows = x.size(0);
  // Stable sort keeps the rows of one expert in row order: the result is reproducible.
  const at::Tensor order = std::get<1>(at::sort(flat_expert, /*stable=*/true, 0, false));
  const at::Tensor sorted_rows = flat_row.index_select(0, order);
  const at::Tensor sorted_gates = gates.index_select(0, order);
  const at::Tensor per_expert = at::bincount(flat_expert, {}, num_experts);
  if (counts) *counts = per_expert;
  const at::Tensor per_expert_cpu = per_expert.to(at::kCPU);  // one host sync per layer
  const int64_t* n = per_expert_cpu.data_ptr<int64_t>();

  // One gather of every assigned row in expert order, split into one contiguous piece per
  // expert. Backward is one cat of the pieces' gradients and one scatter into x: a gather or a
  // slice per expert would each cost a zero-filled gradient of the full size, then their sum.
  const at::Tensor gathered = x.index_select(0, sorted_rows);
  const std::vector<int64_t> sizes(n, n + num_experts);
  const std::vector<at::Tensor> pieces = at::split_with_sizes(gathered, sizes, 0);
  std::vector<at::Tensor> outputs;
  for (int64_t e = 0; e < num_experts; ++e) {
    if (n[e] == 0) continue;
    outputs.push_back(expert(e, pieces[static_cast<std::size_t>(e)]));
  }
  if (outputs.empty()) {
    // No assignment: expert 0 on no rows gives the output width; every row gets 0.
    const at::Tensor empty = expert(0, x.slice(0, 0, 0));
    if (rows == 0) return empty;
    std::vector<int64_t> shape = empty.sizes().vec();
    shape[0] = rows;
    return at::zeros(shape, empty.options());
  }
  const at::Tensor stacked = at::cat(outputs, 0);
  // Under autocast the experts may return bfloat16 while the gates are float: weight in the
  // experts' type, so the scatter's source and destination agree.
  const at::Tensor weighted =
      stacked * broadcastable(sorted_gates.to(stacked.scalar_type()), stacked.dim());
  std::vector<int64_t> out_shape = stacked.sizes().vec();
  out_shape[0] = rows;
  return at::zeros(out_shape, stacked.options()).index_add(0, sorted_rows, weighted);
}

at::Tensor dense_dispatch(const at::Tensor& x, const at::Tensor& expert_idx,
                          const at::Tensor& gates, int64_t num_experts, const ExpertFn& expert) {
  at::Tensor out;
  for (int64_t e = 0; e < num_experts; ++e) {
    // Weight of expert e for each row: the gate where it was chosen, 0 elsewhere.
    const at::Tensor weight = (gates * expert_idx.eq(e).to(gates.scalar_type())).sum(1);
    const at::Tensor y = expert(e, x);
    const at::Tensor term = y * broadcastable(weight, y.dim());
    out = out.defined() ? out + term : term;
  }
  return out;
}

}  // namespace moedil::model::moe
