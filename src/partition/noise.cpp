#include "moedil/partition/noise.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>

#include <ATen/Parallel.h>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/stop.h"

namespace moedil::partition {
namespace {

/// Stream id of the noise (mixed with the domain index), apart from the split seed.
constexpr uint64_t kNoiseStream = 0x6e6f697365000000ULL;  // "noise"

/// Elements per independently seeded block of noise. Changing it changes every noisy image.
constexpr int64_t kNoiseBlock = int64_t{1} << 16;

constexpr double kPi = 3.14159265358979323846;

std::string format_level(double level) {
  std::ostringstream out;
  out << level;
  return out.str();
}

/// v clamped to [0, 255] and rounded to the nearest integer, halves up.
uint8_t to_pixel(double v) {
  return static_cast<uint8_t>(std::floor(std::clamp(v, 0.0, 255.0) + 0.5));
}

}  // namespace

at::Tensor add_gaussian_noise(const at::Tensor& images, double level, uint64_t seed) {
  if (!(level >= 0.0) || !std::isfinite(level)) {
    throw ConfigError("partition.levels: noise levels must be finite and >= 0, got " +
                      format_level(level));
  }
  if (!images.defined() || images.scalar_type() != at::kByte) {
    throw DataError("add_gaussian_noise: images must be a uint8 tensor");
  }
  if (level == 0.0) return images;
  const at::Tensor source = images.contiguous();
  at::Tensor out = at::empty(source.sizes(), source.options());
  const uint8_t* in = source.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  const int64_t n = source.numel();
  const double scale = level * 255.0;
  const int64_t blocks = (n + kNoiseBlock - 1) / kNoiseBlock;
  // Groups of 256 blocks (16 Mi pixels) at a time, so a stop request is honoured between them;
  // every block draws from its own seed, so the grouping does not change the result.
  constexpr int64_t kGroup = 256;
  for (int64_t group = 0; group < blocks; group += kGroup) {
    throw_if_stopped("adding noise to the images");
    const int64_t group_end = std::min(blocks, group + kGroup);
    at::parallel_for(group, group_end, 1, [&](int64_t first, int64_t last) {
      for (int64_t b = first; b < last; ++b) {
        std::mt19937_64 engine(mix_seed(seed, {static_cast<uint64_t>(b)}));
        const int64_t end = std::min(n, (b + 1) * kNoiseBlock);
        for (int64_t i = b * kNoiseBlock; i < end; i += 2) {
          // Box-Muller: two independent normals from two uniforms.
          const double radius = std::sqrt(-2.0 * std::log(uniform_open01(engine)));
          const double angle = 2.0 * kPi * uniform_open01(engine);
          dst[i] = to_pixel(static_cast<double>(in[i]) + scale * radius * std::cos(angle));
          if (i + 1 < end) {
            dst[i + 1] =
                to_pixel(static_cast<double>(in[i + 1]) + scale * radius * std::sin(angle));
          }
        }
      }
    });
  }
  return out;
}

std::vector<Domain> noise_domains(const data::Dataset& d, const config::RunConfig& c) {
  const std::vector<double>& levels = c.partition.levels;
  if (levels.empty()) throw ConfigError("partition.levels: noise needs at least one level");
  if (static_cast<std::size_t>(c.num_partitions) != levels.size()) {
    throw ConfigError("num_partitions: is " + std::to_string(c.num_partitions) +
                      " but partition.levels lists " + std::to_string(levels.size()) +
                      " levels (noise makes one domain per level)");
  }
  for (double level : levels) {
    if (!(level >= 0.0) || !std::isfinite(level)) {
      throw ConfigError("partition.levels: noise levels must be finite and >= 0, got " +
                        format_level(level));
    }
  }
  const auto seed = static_cast<uint64_t>(c.seeds.partition);
  std::string shared = "noise" + format_level(levels.front());
  if (levels.size() > 1) shared += "..noise" + format_level(levels.back());
  std::vector<std::string> names;
  for (double level : levels) names.push_back("noise" + format_level(level));
  return transform_domains(
      d, c, names,
      [&](std::size_t j) {
        return add_gaussian_noise(d.images, levels[j],
                                  mix_seed(seed, {kNoiseStream, static_cast<uint64_t>(j)}));
      },
      shared);
}

}  // namespace moedil::partition
