#include "moedil/data/dataset.h"

#include "moedil/common/random.h"

namespace moedil::data {

Dataset subset(const Dataset& d, const at::Tensor& indices) {
  Dataset out = d;
  out.images = d.images.index_select(0, indices).contiguous();
  out.labels = d.labels.index_select(0, indices);
  if (d.has_domains()) out.domain_ids = d.domain_ids.index_select(0, indices);
  if (d.has_test_split()) out.is_test = d.is_test.index_select(0, indices);
  return out;
}

Dataset subsample(const Dataset& d, int64_t count, uint64_t seed) {
  if (count <= 0 || count >= d.size()) return d;
  std::vector<int64_t> order = random_permutation(d.size(), seed);
  order.resize(static_cast<std::size_t>(count));
  return subset(d, index_tensor(order));
}

void compute_normalisation(Dataset& d) {
  const at::Tensor x = d.images.to(at::kDouble).div_(255.0);
  const at::Tensor mean = x.mean(at::IntArrayRef{0, 2, 3});
  const at::Tensor stddev = x.std(at::IntArrayRef{0, 2, 3}, /*unbiased=*/false);
  d.mean.assign(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
  d.stddev.assign(stddev.data_ptr<double>(), stddev.data_ptr<double>() + stddev.numel());
  for (double& s : d.stddev) s = s > 1e-6 ? s : 1.0;
}

at::Tensor index_tensor(const std::vector<int64_t>& indices) {
  return at::tensor(at::ArrayRef<int64_t>(indices), at::kLong);
}

}  // namespace moedil::data
