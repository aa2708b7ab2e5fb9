#include "moedil/data/batching.h"

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/data/dataset.h"

namespace moedil::data {

Normalizer::Normalizer(const std::vector<double>& mean, const std::vector<double>& stddev,
                       at::Device device) {
  if (mean.empty() || mean.size() != stddev.size()) {
    throw Error("Normalizer: mean and stddev must be non-empty and of the same size");
  }
  const auto channels = static_cast<int64_t>(mean.size());
  std::vector<float> scale;
  std::vector<float> shift;
  for (std::size_t c = 0; c < mean.size(); ++c) {
    scale.push_back(static_cast<float>(1.0 / (255.0 * stddev[c])));
    shift.push_back(static_cast<float>(mean[c] / stddev[c]));
  }
  scale_ = at::tensor(scale, at::kFloat).view({1, channels, 1, 1}).to(device);
  shift_ = at::tensor(shift, at::kFloat).view({1, channels, 1, 1}).to(device);
}

at::Tensor Normalizer::operator()(const at::Tensor& images_u8) const {
  return images_u8.to(at::kFloat).mul(scale_).sub_(shift_);
}

Batches::Batches(at::Tensor images, at::Tensor labels, at::Tensor indices, int64_t batch_size,
                 Normalizer normalizer)
    : images_(std::move(images)),
      labels_(std::move(labels)),
      base_indices_(indices.to(images_.device())),
      indices_(base_indices_),
      batch_size_(batch_size),
      normalizer_(std::move(normalizer)) {
  if (batch_size_ <= 0) throw Error("Batches: batch_size must be positive");
  const at::Tensor host = indices.to(at::kCPU).to(at::kLong).contiguous();
  base_host_.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
  host_ = base_host_;
}

int64_t Batches::num_batches() const { return (num_samples() + batch_size_ - 1) / batch_size_; }

void Batches::shuffle(uint64_t seed) {
  const std::vector<int64_t> order = random_permutation(base_indices_.numel(), seed);
  for (std::size_t i = 0; i < order.size(); ++i) host_[i] = base_host_[order[i]];
  indices_ = base_indices_.index_select(0, index_tensor(order).to(base_indices_.device()));
}

std::vector<int64_t> Batches::host_rows(int64_t b) const {
  const int64_t start = b * batch_size_;
  const int64_t end = std::min(start + batch_size_, num_samples());
  return {host_.begin() + start, host_.begin() + end};
}

at::Tensor Batches::rows(int64_t b) const {
  const int64_t start = b * batch_size_;
  return indices_.slice(0, start, std::min(start + batch_size_, num_samples()));
}

std::pair<at::Tensor, at::Tensor> Batches::get(int64_t b) const {
  const at::Tensor chosen = rows(b);
  return {normalizer_(images_.index_select(0, chosen)), labels_.index_select(0, chosen)};
}

std::pair<at::Tensor, at::Tensor> Batches::get(
    int64_t b, const std::function<at::Tensor(const at::Tensor&)>& transform) const {
  const at::Tensor chosen = rows(b);
  return {normalizer_(transform(images_.index_select(0, chosen))),
          labels_.index_select(0, chosen)};
}

}  // namespace moedil::data
