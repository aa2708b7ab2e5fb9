#pragma once
// Transform domains by rotation: one domain per angle, each the same base images rotated.
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

/// Rotates uint8 images [N, C, H, W] by `degrees` counter-clockwise about their centre
/// (bilinear, zero fill), as one batched tensor operation. 0 degrees returns the input.
at::Tensor rotate_images(const at::Tensor& images, double degrees);

/// One domain per partition.angles entry. The base images are split into train and test once
/// (seeds.partition), and every domain uses the same split, so no test image was seen under
/// another angle in training.
std::vector<Domain> rotate_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
