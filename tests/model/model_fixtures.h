#pragma once
// Small helpers the model tests share: the two input shapes every family must run on, a seeded
// build from a config, random images, and the sum of a usage vector.
#include <ATen/ATen.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/model/classifier.h"
#include "moedil/model/registry.h"

namespace moedil::model::fixtures {

inline InputShape mnist_shape() { return InputShape{1, 28, 28, 10}; }
inline InputShape cifar_shape() { return InputShape{3, 32, 32, 5}; }

/// The registered model `c.name` with weights drawn after seeding the default generator.
inline Classifier build(const config::ModelConfig& c, const InputShape& in, uint64_t seed = 0) {
  at::manual_seed(seed);
  return make_model(c, in);
}

/// Standard-normal images [batch, C, H, W] of the shape.
inline at::Tensor images(const InputShape& in, int64_t batch) {
  return at::randn({batch, in.channels, in.height, in.width});
}

inline int64_t sum_of(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

}  // namespace moedil::model::fixtures
