#include "moedil/data/batching.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <ATen/Parallel.h>

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
  scale_host_ = scale;
  shift_host_ = shift;
  scale_ = at::tensor(scale, at::kFloat).view({1, channels, 1, 1}).to(device);
  shift_ = at::tensor(shift, at::kFloat).view({1, channels, 1, 1}).to(device);
}

at::Tensor Normalizer::operator()(const at::Tensor& images_u8) const {
  const auto channels = static_cast<int64_t>(scale_host_.size());
  if (!images_u8.device().is_cpu() || !scale_.device().is_cpu() ||
      images_u8.scalar_type() != at::kByte || !images_u8.is_contiguous() ||
      images_u8.dim() != 4 || (channels != 1 && images_u8.size(1) != channels)) {
    return images_u8.to(at::kFloat).mul(scale_).sub_(shift_);
  }
  // The same two roundings per value as ATen's mul then sub (this file is compiled with
  // -ffp-contract=off, so they are not fused into one): the same bits.
  at::Tensor out = at::empty(images_u8.sizes(), images_u8.options().dtype(at::kFloat));
  const int64_t image_channels = images_u8.size(1);
  const int64_t planes = images_u8.size(0) * image_channels;
  const int64_t plane = planes == 0 ? 0 : images_u8.numel() / planes;
  const uint8_t* in = images_u8.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  const auto normalise = [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const auto c = static_cast<std::size_t>(channels == 1 ? 0 : p % image_channels);
      const float scale = scale_host_[c];
      const float shift = shift_host_[c];
      const uint8_t* src = in + p * plane;
      float* row = dst + p * plane;
      for (int64_t j = 0; j < plane; ++j) {
        const float scaled = static_cast<float>(src[j]) * scale;
        row[j] = scaled - shift;
      }
    }
  };
  at::parallel_for(0, planes, std::max<int64_t>(1, kNormalizeGrain / std::max<int64_t>(1, plane)),
                   normalise);
  return out;
}

namespace {

/// Rows `rows` of t (on the CPU, contiguous), copied on the calling thread.
at::Tensor gather_rows(const at::Tensor& t, const std::vector<int64_t>& rows) {
  std::vector<int64_t> shape = t.sizes().vec();
  shape[0] = static_cast<int64_t>(rows.size());
  at::Tensor out = at::empty(shape, t.options());
  const int64_t count = t.size(0);
  const int64_t bytes =
      count == 0 ? 0 : t.numel() / count * static_cast<int64_t>(t.element_size());
  const auto* src = static_cast<const char*>(t.data_ptr());
  auto* dst = static_cast<char*>(out.data_ptr());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= count) {
      throw Error("Batches: row " + std::to_string(rows[i]) + " is outside the " +
                  std::to_string(count) + " rows of the data");
    }
    std::memcpy(dst + static_cast<int64_t>(i) * bytes, src + rows[i] * bytes,
                static_cast<std::size_t>(bytes));
  }
  return out;
}

bool gathers_on_host(const at::Tensor& t) {
  return t.device().is_cpu() && t.is_contiguous() && t.dim() >= 1;
}

}  // namespace

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

std::pair<at::Tensor, at::Tensor> Batches::gather(int64_t b) const {
  if (gathers_on_host(images_) && gathers_on_host(labels_)) {
    const std::vector<int64_t> chosen = host_rows(b);
    return {gather_rows(images_, chosen), gather_rows(labels_, chosen)};
  }
  const at::Tensor chosen = rows(b);
  return {images_.index_select(0, chosen), labels_.index_select(0, chosen)};
}

std::pair<at::Tensor, at::Tensor> Batches::get(int64_t b) const {
  auto [images, labels] = gather(b);
  return {normalizer_(images), std::move(labels)};
}

std::pair<at::Tensor, at::Tensor> Batches::get(
    int64_t b, const std::function<at::Tensor(const at::Tensor&)>& transform) const {
  auto [images, labels] = gather(b);
  return {normalizer_(transform(images)), std::move(labels)};
}

}  // namespace moedil::data
