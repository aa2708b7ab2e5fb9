#pragma once
// Transform domains by additive Gaussian noise: one domain per noise level, each the same base
// images with their own seeded noise.
#include <cstdint>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// uint8 images [N, C, H, W] plus Gaussian noise of standard deviation `level` on the [0, 1]
/// pixel scale (level * 255 on uint8), rounded to the nearest integer (halves up) and clamped to
/// [0, 255]; a new contiguous tensor. Level 0 returns `images` itself. The noise is portable:
/// Box-Muller on mt19937_64 bits, never std::normal_distribution or at::randn. The flattened
/// elements are drawn in fixed blocks of 65536, block b from mt19937_64(mix_seed(seed, {b})), so
/// the blocks run in parallel and the result does not depend on the thread count. Throws
/// ConfigError when level is negative or not finite (naming partition.levels) and DataError
/// unless images is a uint8 tensor.
at::Tensor add_gaussian_noise(const at::Tensor& images, double level, uint64_t seed);

/// One domain per partition.levels entry ("noise" + the level as printed by an ostream, e.g.
/// "noise0", "noise0.1"): the base images with add_gaussian_noise at that level, the noise of
/// domain j drawn from seeds.partition mixed with j (two domains of the same level get different
/// noise). All domains share d.labels and one train/test split of all rows (split_domain with
/// seeds.partition, the same split as rotate). Every domain of a level > 0 holds its own copy of
/// the images. Throws ConfigError when levels is empty, when num_partitions differs from the
/// number of levels, or for a bad level.
std::vector<Domain> noise_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
