#pragma once
// Test helpers: the dataset rows a partitioner put into each domain.
#include <algorithm>
#include <vector>

#include <ATen/ATen.h>

#include "moedil/partition/domain.h"

namespace moedil::partition::testing {

inline std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// Rows of a domain (train and test), sorted.
inline std::vector<int64_t> all_rows(const Domain& dom) {
  std::vector<int64_t> rows = to_vector(dom.train_idx);
  const std::vector<int64_t> test = to_vector(dom.test_idx);
  rows.insert(rows.end(), test.begin(), test.end());
  std::sort(rows.begin(), rows.end());
  return rows;
}

inline std::vector<std::vector<int64_t>> rows_of(const std::vector<Domain>& domains) {
  std::vector<std::vector<int64_t>> out;
  for (const Domain& dom : domains) out.push_back(all_rows(dom));
  return out;
}

}  // namespace moedil::partition::testing
