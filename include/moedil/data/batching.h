#pragma once
// Batches cut from in-memory tensors: one gather and one normalisation pass per batch, no
// per-sample work. On the CPU both run on the calling thread for batches of up to
// kNormalizeGrain values: the images' index_select and the three elementwise ops of the
// normalisation each opened an OpenMP region per batch, right after the serial optimizer step
// (bench/README.md).
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

namespace moedil::data {

/// Values per piece of the CPU normalisation: a batch of at most this many runs on the calling
/// thread (a batch of 64 CIFAR images is 196,608).
inline constexpr int64_t kNormalizeGrain = int64_t{1} << 18;

/// x -> (x / 255 - mean) / stddev per channel, for uint8 NCHW batches.
class Normalizer {
 public:
  Normalizer(const std::vector<double>& mean, const std::vector<double>& stddev,
             at::Device device);
  /// uint8 [B, C, H, W] -> float [B, C, H, W] on the same device.
  at::Tensor operator()(const at::Tensor& images_u8) const;

 private:
  at::Tensor scale_;  ///< 1 / (255 stddev), [1, C, 1, 1]
  at::Tensor shift_;  ///< mean / stddev, [1, C, 1, 1]
  std::vector<float> scale_host_;  ///< scale_ on the host
  std::vector<float> shift_host_;  ///< shift_ on the host
};

/// The batches of one split: rows `indices` of `images` and `labels` (all on the same device),
/// in order or shuffled by a seed. The last batch may be smaller.
class Batches {
 public:
  Batches(at::Tensor images, at::Tensor labels, at::Tensor indices, int64_t batch_size,
          Normalizer normalizer);

  int64_t num_batches() const;
  int64_t num_samples() const { return indices_.numel(); }
  /// Reorders the samples by a permutation drawn from `seed` (same seed, same order).
  void shuffle(uint64_t seed);
  /// Batch b: normalised float images [B, C, H, W] and int64 labels [B].
  std::pair<at::Tensor, at::Tensor> get(int64_t b) const;
  /// Batch b with `transform` applied to its uint8 images before normalisation.
  std::pair<at::Tensor, at::Tensor> get(
      int64_t b, const std::function<at::Tensor(const at::Tensor&)>& transform) const;
  /// Rows (into the images tensor) of batch b, int64 on the images' device.
  at::Tensor rows(int64_t b) const;
  /// The same rows as rows(b), from a host-side copy: no device transfer or synchronisation.
  std::vector<int64_t> host_rows(int64_t b) const;

 private:
  /// Batch b's uint8 images and labels, before normalisation.
  std::pair<at::Tensor, at::Tensor> gather(int64_t b) const;

  at::Tensor images_;
  at::Tensor labels_;
  at::Tensor base_indices_;
  at::Tensor indices_;
  std::vector<int64_t> base_host_;  ///< base_indices_ on the host
  std::vector<int64_t> host_;       ///< indices_ on the host
  int64_t batch_size_;
  Normalizer normalizer_;
};

}  // namespace moedil::data
