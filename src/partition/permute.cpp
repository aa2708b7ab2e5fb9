#include "moedil/partition/permute.h"

#include <string>

#include "moedil/common/error.h"
#include "moedil/common/random.h"

namespace moedil::partition {
namespace {

/// Stream id of the permutations (mixed with the domain index), apart from the split seed.
constexpr uint64_t kPermuteStream = 0x7065726d75746500ULL;  // "permute"

}  // namespace

std::vector<int64_t> pixel_permutation(int64_t height, int64_t width, uint64_t seed) {
  return random_permutation(height * width, seed);
}

at::Tensor permute_pixels(const at::Tensor& images, const std::vector<int64_t>& perm) {
  if (!images.defined() || images.dim() != 4) {
    throw DataError("permute_pixels: images must be a 4-d [N, C, H, W] tensor");
  }
  const int64_t positions = images.size(2) * images.size(3);
  std::vector<bool> seen(static_cast<std::size_t>(positions), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= positions || seen[static_cast<std::size_t>(p)]) {
      throw DataError("permute_pixels: the permutation of " + std::to_string(perm.size()) +
                      " entries is not a permutation of the " + std::to_string(positions) +
                      " pixel positions of " + std::to_string(images.size(2)) + "x" +
                      std::to_string(images.size(3)) + " images");
    }
    seen[static_cast<std::size_t>(p)] = true;
  }
  if (static_cast<int64_t>(perm.size()) != positions) {
    throw DataError("permute_pixels: " + std::to_string(perm.size()) + " entries for " +
                    std::to_string(positions) + " pixel positions");
  }
  const at::Tensor index = data::index_tensor(perm);
  return images.reshape({images.size(0), images.size(1), positions})
      .index_select(2, index)
      .view(images.sizes());
}

std::vector<Domain> permute_domains(const data::Dataset& d, const config::RunConfig& c) {
  if (c.num_partitions < 1) {
    throw ConfigError("num_partitions: must be >= 1, got " + std::to_string(c.num_partitions));
  }
  const auto seed = static_cast<uint64_t>(c.seeds.partition);
  const std::string shared =
      c.num_partitions == 1 ? "perm0" : "perm0..perm" + std::to_string(c.num_partitions - 1);
  std::vector<std::string> names;
  for (int64_t j = 0; j < c.num_partitions; ++j) names.push_back("perm" + std::to_string(j));
  return transform_domains(
      d, c, names,
      [&](std::size_t j) {
        if (j == 0) return d.images;
        return permute_pixels(
            d.images, pixel_permutation(d.height(), d.width(),
                                        mix_seed(seed, {kPermuteStream, static_cast<uint64_t>(j)})));
      },
      shared);
}

}  // namespace moedil::partition
