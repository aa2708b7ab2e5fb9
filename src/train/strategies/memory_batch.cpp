#include "moedil/train/strategies/memory_batch.h"

#include <algorithm>

#include "moedil/common/random.h"

namespace moedil::train {

MemoryBatch draw_memory_batch(const ReplayMemory& memory, const TrainingData& data, int64_t n,
                              uint64_t seed) {
  MemoryBatch out;
  out.slots = memory.draw_slots(n, seed);
  if (out.slots.empty()) return out;
  const auto& contents = memory.contents();
  std::stable_sort(out.slots.begin(), out.slots.end(), [&](int64_t a, int64_t b) {
    return contents[static_cast<std::size_t>(a)].domain < contents[static_cast<std::size_t>(b)].domain;
  });
  std::vector<ReplaySample> samples;
  samples.reserve(out.slots.size());
  for (const int64_t slot : out.slots) samples.push_back(contents[static_cast<std::size_t>(slot)]);
  auto [x, y] = data.gather(samples, mix_seed(seed, {5000}));
  out.images = std::move(x);
  out.labels = std::move(y);
  return out;
}

}  // namespace moedil::train
