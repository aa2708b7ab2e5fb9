#pragma once
// A batch drawn from a strategy's memory, with the slots it came from, aligned row by row:
// TrainingData::gather groups samples by domain, so the draw is put in that order first.
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "moedil/train/replay.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

struct MemoryBatch {
  at::Tensor images;
  at::Tensor labels;
  std::vector<int64_t> slots;  ///< memory slot of each row
};

/// n samples drawn from `memory` by `seed` (ReplayMemory::draw_slots), augmented with a seed
/// derived from it; empty when the memory is.
MemoryBatch draw_memory_batch(const ReplayMemory& memory, const TrainingData& data, int64_t n,
                              uint64_t seed);

}  // namespace moedil::train
