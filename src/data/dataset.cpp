#include "moedil/data/dataset.h"

#include "moedil/common/random.h"
#include "moedil/common/stop.h"

namespace moedil::data {

Dataset subset(const Dataset& d, const at::Tensor& indices) {
  Dataset out = d;
  out.mean.clear();  // the statistics were the whole dataset's
  out.stddev.clear();
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
  // Per-channel sums in double over chunks, so memory stays a small multiple of one chunk
  // (converting the whole uint8 dataset to double would take 8x its size).
  const int64_t channels = d.images.size(1);
  at::Tensor sum = at::zeros({channels}, at::kDouble);
  at::Tensor sum_sq = at::zeros({channels}, at::kDouble);
  constexpr int64_t kChunk = 256;
  for (int64_t start = 0; start < d.size(); start += kChunk) {
    throw_if_stopped("computing the normalisation of dataset '" + d.name + "'");
    const at::Tensor x =
        d.images.slice(0, start, std::min(start + kChunk, d.size())).to(at::kDouble).div_(255.0);
    sum += x.sum(at::IntArrayRef{0, 2, 3});
    sum_sq += x.square().sum(at::IntArrayRef{0, 2, 3});
  }
  const double n = static_cast<double>(d.size() * d.images.size(2) * d.images.size(3));
  const at::Tensor mean = sum / n;
  const at::Tensor stddev = (sum_sq / n - mean.square()).clamp_min(0).sqrt();
  d.mean.assign(mean.data_ptr<double>(), mean.data_ptr<double>() + channels);
  d.stddev.assign(stddev.data_ptr<double>(), stddev.data_ptr<double>() + channels);
  for (double& s : d.stddev) s = s > 1e-6 ? s : 1.0;
}

at::Tensor index_tensor(const std::vector<int64_t>& indices) {
  return at::tensor(at::ArrayRef<int64_t>(indices), at::kLong);
}

}  // namespace moedil::data
