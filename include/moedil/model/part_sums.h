#pragma once
// Sums over many rows computed in a fixed number of parts of the rows, each part's partial sum
// on whichever thread takes it, then the partials added in part order on the calling thread.
// The parts depend on the row count only, never on the threads, so neither do the bits: the
// linear layers' d(W) and d(b) (model/linear.h) and the layer norm's d(weight) and d(bias)
// (model/layer_norm.h).
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace moedil::model {

/// How many parts `rows` rows are summed in: rows / min_rows_per_part, clamped to
/// [1, max_parts].
int64_t row_parts(int64_t rows, int64_t min_rows_per_part, int64_t max_parts);

/// The float32 partial sums `partial` [parts, ...] (contiguous) added in part order on this
/// thread: [...]; for one part, partial[0] itself. For small sums (a layer's weights): not worth
/// a parallel region.
at::Tensor add_parts(const at::Tensor& partial);

}  // namespace moedil::model
