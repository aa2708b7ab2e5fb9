#include "moedil/data/synthetic.h"

#include <algorithm>
#include <random>

namespace moedil::data {

Dataset make_synthetic_dataset(int64_t size, uint64_t seed) {
  constexpr int64_t side = kSyntheticSide;
  constexpr int64_t half = side / 2;
  Dataset d;
  d.name = "synthetic";
  d.num_classes = kSyntheticClasses;
  d.images = at::empty({size, 1, side, side}, at::kByte);
  d.labels = at::empty({size}, at::kLong);
  d.domain_ids = at::empty({size}, at::kLong);
  for (int64_t k = 0; k < kSyntheticDomains; ++k) d.domain_names.push_back("d" + std::to_string(k));
  std::mt19937_64 engine(seed);
  uint8_t* pixels = d.images.data_ptr<uint8_t>();
  int64_t* labels = d.labels.data_ptr<int64_t>();
  int64_t* domains = d.domain_ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < size; ++i) {
    const int64_t label = i % kSyntheticClasses;
    const int64_t domain = (i / kSyntheticClasses) % kSyntheticDomains;
    labels[i] = label;
    domains[i] = domain;
    const int64_t top = (label / 2) * half;
    const int64_t left = (label % 2) * half;
    for (int64_t y = 0; y < side; ++y) {
      for (int64_t x = 0; x < side; ++x) {
        const bool inside = y >= top && y < top + half && x >= left && x < left + half;
        const int64_t base = inside ? 200 : 20 + 30 * domain;
        const int64_t noise = static_cast<int64_t>(engine() % 41) - 20;
        pixels[(i * side + y) * side + x] =
            static_cast<uint8_t>(std::clamp<int64_t>(base + noise, 0, 255));
      }
    }
  }
  return d;
}

}  // namespace moedil::data
