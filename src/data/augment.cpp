#include "moedil/data/augment.h"

#include <random>
#include <vector>

#include "moedil/common/random.h"

namespace moedil::data {

at::Tensor Augmenter::operator()(const at::Tensor& images, uint64_t seed) const {
  if (!enabled() || images.size(0) == 0) return images;
  const int64_t batch = images.size(0);
  const int64_t height = images.size(2);
  const int64_t width = images.size(3);
  const int64_t pad = config_.random_crop_padding;
  std::mt19937_64 engine(seed);
  std::vector<int64_t> dy(static_cast<std::size_t>(batch), pad);
  std::vector<int64_t> dx(static_cast<std::size_t>(batch), pad);
  std::vector<int64_t> flip(static_cast<std::size_t>(batch), 0);
  for (int64_t b = 0; b < batch; ++b) {
    if (pad > 0) {
      dy[b] = static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(2 * pad + 1)));
      dx[b] = static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(2 * pad + 1)));
    }
    if (config_.horizontal_flip) flip[b] = static_cast<int64_t>(uniform_below(engine, 2));
  }
  const auto device = images.device();
  const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor offset_y = at::tensor(dy, at::kLong).to(device);
  const at::Tensor offset_x = at::tensor(dx, at::kLong).to(device);
  // Source rows and columns of every output pixel, per image: [B, H] and [B, W]; a flipped
  // image reads its columns right to left.
  const at::Tensor rows = offset_y.unsqueeze(1) + at::arange(height, longs).unsqueeze(0);
  at::Tensor cols_fwd = at::arange(width, longs).unsqueeze(0).expand({batch, width});
  const at::Tensor flipped = at::tensor(flip, at::kLong).to(device).to(at::kBool).unsqueeze(1);
  const at::Tensor cols = offset_x.unsqueeze(1) + at::where(flipped, cols_fwd.flip(1), cols_fwd);
  const at::Tensor padded = pad > 0 ? at::constant_pad_nd(images, {pad, pad, pad, pad}, 0) : images;
  const at::Tensor batch_index = at::arange(batch, longs).view({batch, 1, 1, 1});
  const at::Tensor channel_index = at::arange(images.size(1), longs).view({1, -1, 1, 1});
  return at::index(padded, {batch_index, channel_index, rows.view({batch, 1, height, 1}),
                            cols.view({batch, 1, 1, width})});
}

}  // namespace moedil::data
