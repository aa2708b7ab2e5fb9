#include "moedil/model/part_sums.h"

#include <algorithm>

#include <ATen/ATen.h>

namespace moedil::model {

int64_t row_parts(int64_t rows, int64_t min_rows_per_part, int64_t max_parts) {
  return std::clamp<int64_t>(rows / std::max<int64_t>(1, min_rows_per_part), 1,
                             std::max<int64_t>(1, max_parts));
}

at::Tensor add_parts(const at::Tensor& partial) {
  const int64_t parts = partial.size(0);
  if (parts == 1) return partial[0];
  const int64_t size = partial.numel() / parts;
  at::Tensor total = partial[0].clone();
  const float* src = partial.data_ptr<float>();
  float* dst = total.data_ptr<float>();
  for (int64_t p = 1; p < parts; ++p) {
    for (int64_t i = 0; i < size; ++i) dst[i] += src[p * size + i];
  }
  return total;
}

}  // namespace moedil::model
