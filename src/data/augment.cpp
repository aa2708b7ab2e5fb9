#include "moedil/data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::data {
namespace {

at::Tensor per_image(const std::vector<double>& values, const at::Tensor& like) {
  return at::tensor(values, at::kDouble)
      .to(like.device(), at::kFloat)
      .view({static_cast<int64_t>(values.size()), 1, 1, 1});
}

double uniform(std::mt19937_64& engine, double lo, double hi) {
  return lo + (hi - lo) * uniform_open01(engine);
}

/// RandomResizedCrop(side, scale (0.8, 1), ratio (1, 1)) of square images: a square of
/// round(sqrt(s * side^2)) pixels, s ~ U(0.8, 1), at a uniform position, resized back to `side`
/// by bilinear interpolation (align_corners false, edges clamped), as torch's interpolate.
at::Tensor random_resized_crop(const at::Tensor& x, std::mt19937_64& engine) {
  const int64_t batch = x.size(0);
  const int64_t side = x.size(2);
  std::vector<double> theta(static_cast<std::size_t>(batch) * 6, 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    const double area = static_cast<double>(side * side) * uniform(engine, 0.8, 1.0);
    const int64_t w = std::clamp<int64_t>(std::llround(std::sqrt(area)), 1, side);
    const auto i = static_cast<double>(uniform_below(engine, static_cast<uint64_t>(side - w + 1)));
    const auto j = static_cast<double>(uniform_below(engine, static_cast<uint64_t>(side - w + 1)));
    const double scale = static_cast<double>(w) / static_cast<double>(side);
    double* t = theta.data() + b * 6;
    t[0] = scale;                                                      // x from output x
    t[2] = (2.0 * j + static_cast<double>(w)) / static_cast<double>(side) - 1.0;
    t[4] = scale;                                                      // y from output y
    t[5] = (2.0 * i + static_cast<double>(w)) / static_cast<double>(side) - 1.0;
  }
  const at::Tensor th =
      at::tensor(theta, at::kDouble).to(x.device(), at::kFloat).view({batch, 2, 3});
  const at::Tensor grid = at::affine_grid_generator(th, {batch, x.size(1), side, side}, false);
  // interpolation 0 = bilinear, padding 1 = border.
  return at::grid_sampler(x, grid, 0, 1, false);
}

at::Tensor grayscale(const at::Tensor& x) {  // [B, 1, H, W], torchvision's weights
  if (x.size(1) == 1) return x;
  return (x.select(1, 0) * 0.2989 + x.select(1, 1) * 0.587 + x.select(1, 2) * 0.114)
      .unsqueeze(1);
}

at::Tensor blend(const at::Tensor& a, const at::Tensor& b, const at::Tensor& ratio) {
  return (ratio * a + (1.0 - ratio) * b).clamp(0.0, 1.0);
}

/// torchvision's adjust_hue on [0, 1] RGB: shift the hue by `shift` turns (per image).
at::Tensor shift_hue(const at::Tensor& x, const at::Tensor& shift) {
  const at::Tensor r = x.select(1, 0), g = x.select(1, 1), bl = x.select(1, 2);
  const at::Tensor maxc = std::get<0>(x.max(1));
  const at::Tensor minc = std::get<0>(x.min(1));
  const at::Tensor eqc = maxc == minc;
  const at::Tensor cr = maxc - minc;
  const at::Tensor ones = at::ones_like(maxc);
  const at::Tensor s = cr / at::where(eqc, ones, maxc);
  const at::Tensor cr_div = at::where(eqc, ones, cr);
  const at::Tensor rc = (maxc - r) / cr_div, gc = (maxc - g) / cr_div, bc = (maxc - bl) / cr_div;
  const at::Tensor hr = (maxc == r).to(x.scalar_type()) * (bc - gc);
  const at::Tensor hg = ((maxc == g) & (maxc != r)).to(x.scalar_type()) * (2.0 + rc - bc);
  const at::Tensor hb = ((maxc != g) & (maxc != r)).to(x.scalar_type()) * (4.0 + gc - rc);
  at::Tensor h = at::fmod((hr + hg + hb) / 6.0 + 1.0, 1.0);
  h = at::fmod(h + shift.view({-1, 1, 1}) + 1.0, 1.0);
  // HSV -> RGB (torchvision's _hsv2rgb).
  const at::Tensor v = maxc;
  const at::Tensor i6 = at::floor(h * 6.0);
  const at::Tensor f = h * 6.0 - i6;
  const at::Tensor i = i6.to(at::kLong).remainder(6);
  const at::Tensor p = (v * (1.0 - s)).clamp(0.0, 1.0);
  const at::Tensor q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
  const at::Tensor t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
  const std::array<std::array<const at::Tensor*, 3>, 6> table{{{&v, &t, &p},
                                                               {&q, &v, &p},
                                                               {&p, &v, &t},
                                                               {&p, &q, &v},
                                                               {&t, &p, &v},
                                                               {&v, &p, &q}}};
  std::array<at::Tensor, 3> out{at::zeros_like(v), at::zeros_like(v), at::zeros_like(v)};
  for (int64_t k = 0; k < 6; ++k) {
    const at::Tensor m = i == k;
    for (int64_t c = 0; c < 3; ++c) out[c] = at::where(m, *table[k][c], out[c]);
  }
  return at::stack({out[0], out[1], out[2]}, 1);
}

/// ColorJitter(0.2, 0.2, 0.2, 0.05): each image its factors and its order of the four steps.
at::Tensor color_jitter(const at::Tensor& x, std::mt19937_64& engine) {
  const int64_t batch = x.size(0);
  std::vector<double> bright(batch), contrast(batch), saturation(batch), hue(batch);
  std::vector<std::array<int64_t, 4>> order(static_cast<std::size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const std::vector<int64_t> perm = random_permutation(4, engine());
    std::copy(perm.begin(), perm.end(), order[b].begin());
    bright[b] = uniform(engine, 0.8, 1.2);
    contrast[b] = uniform(engine, 0.8, 1.2);
    saturation[b] = uniform(engine, 0.8, 1.2);
    hue[b] = uniform(engine, -0.05, 0.05);
  }
  const at::Tensor fb = per_image(bright, x), fc = per_image(contrast, x);
  const at::Tensor fs = per_image(saturation, x), fh = per_image(hue, x);
  const bool rgb = x.size(1) == 3;
  at::Tensor out = x;
  for (std::size_t position = 0; position < 4; ++position) {
    std::vector<int64_t> step(static_cast<std::size_t>(batch));
    for (int64_t b = 0; b < batch; ++b) step[b] = order[b][position];
    const at::Tensor which =
        at::tensor(step, at::kLong).to(x.device()).view({batch, 1, 1, 1});
    const at::Tensor brightened = blend(out, at::zeros_like(out), fb);
    const at::Tensor mean = grayscale(out).mean({1, 2, 3}, true);
    const at::Tensor contrasted = blend(out, mean, fc);
    // One channel: torchvision leaves saturation and hue as they are.
    const at::Tensor saturated = rgb ? blend(out, grayscale(out), fs) : out;
    const at::Tensor hued = rgb ? shift_hue(out, fh.view({-1})) : out;
    out = at::where(which == 0, brightened,
                    at::where(which == 1, contrasted, at::where(which == 2, saturated, hued)));
  }
  return out;
}

/// GaussianBlur(3, sigma ~ U(0.1, 2)) with reflect padding: the 3-tap kernel (e, 1, e) / (1 +
/// 2e), e = exp(-1 / (2 sigma^2)), along the rows and then the columns.
at::Tensor blur(const at::Tensor& x, std::mt19937_64& engine) {
  const int64_t batch = x.size(0);
  std::vector<double> side_weight(batch), centre_weight(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const double sigma = uniform(engine, 0.1, 2.0);
    const double e = std::exp(-1.0 / (2.0 * sigma * sigma));
    side_weight[b] = e / (1.0 + 2.0 * e);
    centre_weight[b] = 1.0 / (1.0 + 2.0 * e);
  }
  const at::Tensor ws = per_image(side_weight, x), wc = per_image(centre_weight, x);
  const int64_t h = x.size(2), w = x.size(3);
  if (h < 2 || w < 2) return x;  // reflect padding needs two pixels
  const at::Tensor padded = at::reflection_pad2d(x, {1, 1, 1, 1});
  const at::Tensor rows = padded.narrow(2, 1, h);  // [B, C, H, W + 2]
  const at::Tensor horizontal =
      wc * rows.narrow(3, 1, w) + ws * (rows.narrow(3, 0, w) + rows.narrow(3, 2, w));
  const at::Tensor vpad = at::reflection_pad2d(horizontal, {0, 0, 1, 1});
  return wc * vpad.narrow(2, 1, h) + ws * (vpad.narrow(2, 0, h) + vpad.narrow(2, 2, h));
}

}  // namespace

void Augmenter::check_image_size(int64_t height, int64_t width) const {
  if (crops() && config_.crop_size > 0 &&
      (height != config_.crop_size || width != config_.crop_size)) {
    throw ConfigError("augmentation.resize is " + std::to_string(config_.crop_size) +
                      " but the images are " + std::to_string(height) + "x" +
                      std::to_string(width) + ": the crops give images of augmentation.resize "
                      "pixels (the predecessor's default is 32), and moedil trains and tests "
                      "at one size; set augmentation.resize to " + std::to_string(height));
  }
  if (config_.random_resize_crop && height != width) {
    throw ConfigError("augmentation.random_resize_crop needs square images, and these are " +
                      std::to_string(height) + "x" + std::to_string(width) +
                      ": set resize to make them square");
  }
}

bool Augmenter::enabled() const {
  return config_.random_resize_crop || config_.random_crop_padding > 0 ||
         config_.horizontal_flip || config_.color_jitter || config_.blur || config_.noise;
}

at::Tensor Augmenter::operator()(const at::Tensor& input, uint64_t seed) const {
  if (!enabled() || input.size(0) == 0) return input;
  at::Tensor images = input;
  const int64_t batch = images.size(0);
  const int64_t height = images.size(2);
  const int64_t width = images.size(3);
  check_image_size(height, width);
  if (config_.random_resize_crop) {
    std::mt19937_64 engine(mix_seed(seed, {1}));
    images = random_resized_crop(images.to(at::kFloat), engine);
  }
  const int64_t pad = config_.random_crop_padding;
  if (pad > 0 || config_.horizontal_flip) {
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
    const at::Tensor cols =
        offset_x.unsqueeze(1) + at::where(flipped, cols_fwd.flip(1), cols_fwd);
    const at::Tensor padded =
        pad > 0 ? at::constant_pad_nd(images, {pad, pad, pad, pad}, 0) : images;
    const at::Tensor batch_index = at::arange(batch, longs).view({batch, 1, 1, 1});
    const at::Tensor channel_index = at::arange(images.size(1), longs).view({1, -1, 1, 1});
    images = at::index(padded, {batch_index, channel_index, rows.view({batch, 1, height, 1}),
                                cols.view({batch, 1, 1, width})});
  }
  if (!config_.color_jitter && !config_.blur && !config_.noise) return images;
  // The photometric steps work on [0, 1] as torchvision's; the result goes back to 0..255.
  // Cropped images are not rounded in between.
  at::Tensor x = images.to(at::kFloat).div(255.0);
  if (config_.color_jitter) {
    std::mt19937_64 engine(mix_seed(seed, {2}));
    x = color_jitter(x, engine);
  }
  if (config_.blur) {
    std::mt19937_64 engine(mix_seed(seed, {3}));
    x = blur(x, engine);
  }
  if (config_.noise) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(mix_seed(seed, {4}));
    x = x + at::randn(x.sizes(), generator, at::TensorOptions().dtype(at::kFloat))
                    .to(x.device())
                    .mul_(0.01);
  }
  return x.mul(255.0);
}

}  // namespace moedil::data
