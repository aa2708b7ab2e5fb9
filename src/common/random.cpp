#include "moedil/common/random.h"

#include <limits>
#include <numeric>
#include <random>

namespace moedil {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t uniform_below(std::mt19937_64& engine, uint64_t bound) {
  const uint64_t limit = std::numeric_limits<uint64_t>::max() -
                         std::numeric_limits<uint64_t>::max() % bound;
  uint64_t value = engine();
  while (value >= limit) value = engine();
  return value % bound;
}

uint64_t mix_seed(uint64_t base, std::initializer_list<uint64_t> streams) {
  uint64_t seed = splitmix64(base);
  for (uint64_t s : streams) seed = splitmix64(seed ^ splitmix64(s + 0x51ed2701ULL));
  return seed;
}

double uniform_open01(std::mt19937_64& engine) {
  return (static_cast<double>(engine() >> 11) + 0.5) * 0x1.0p-53;
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::mt19937_64 engine(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(i) + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

int64_t entropy_seed() {
  static std::random_device device;
  std::uniform_int_distribution<int64_t> dist(1, (int64_t{1} << 31) - 1);
  return dist(device);
}

}  // namespace moedil
