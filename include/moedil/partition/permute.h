#pragma once
// Transform domains by pixel permutation ("permuted MNIST"): one domain per partition, each the
// same base images with its own fixed shuffle of the pixel positions.
#include <cstdint>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// A uniformly random permutation of the height * width pixel positions (row-major), drawn by
/// random_permutation from `seed`.
std::vector<int64_t> pixel_permutation(int64_t height, int64_t width, uint64_t seed);

/// uint8 images [N, C, H, W] with their pixel positions permuted, the same way in every image and
/// channel: out[n][c] flattened at position p is images[n][c] flattened at perm[p]. One
/// index_select over the whole tensor; the result is a new contiguous tensor. Throws DataError
/// unless images is a 4-d tensor and perm a permutation of 0..H*W-1.
at::Tensor permute_pixels(const at::Tensor& images, const std::vector<int64_t>& perm);

/// One domain per partition (c.num_partitions), "perm0".."perm{P-1}". Domain 0 is the identity
/// and shares d.images; domain j >= 1 holds the images under pixel_permutation drawn from
/// seeds.partition mixed with j, so a domain's permutation does not depend on num_partitions.
/// All domains share d.labels and one train/test split of all rows (split_domain with
/// seeds.partition, the same split as rotate), so no test image was trained on under another
/// permutation. Every domain but the first holds its own copy of the images. Throws ConfigError
/// when num_partitions < 1.
std::vector<Domain> permute_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
