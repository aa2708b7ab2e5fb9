#pragma once
// A small generated dataset with domain ids, for tests and smoke runs without files:
// 1x8x8 images of 4 classes (a bright 4x4 square in quadrant `label`) in 3 domains (the domain
// shifts the background brightness), with seeded noise.
#include <cstdint>

#include "moedil/data/dataset.h"

namespace moedil::data {

inline constexpr int64_t kSyntheticDefaultSize = 480;
inline constexpr int64_t kSyntheticClasses = 4;
inline constexpr int64_t kSyntheticDomains = 3;
inline constexpr int64_t kSyntheticSide = 8;

/// `size` samples (classes and domains cycle, so every domain has every class).
Dataset make_synthetic_dataset(int64_t size, uint64_t seed);

}  // namespace moedil::data
