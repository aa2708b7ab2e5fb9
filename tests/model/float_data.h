#pragma once
// Float test data for the CPU kernels' tests (head_products_test, linear_kernel_test): normal
// random floats from a seed, and bit-for-bit comparison (NaN payloads and -0 included).
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

namespace moedil::testing {

/// n floats drawn from N(0, 1) by std::mt19937(seed): the same values on every run.
inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> out(n);
  for (float& x : out) x = dist(gen);
  return out;
}

/// Whether a and b have the same bits.
inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

}  // namespace moedil::testing
