#pragma once
// The memory a run needs, estimated from its config before anything is allocated, so that a
// config that cannot fit this machine fails in `validate` and at the start of `run` (exit 2)
// instead of after minutes of allocation or with a LibTorch backtrace. Torch-free.
#include <cstdint>
#include <string>

#include "moedil/config/run_config.h"
#include "moedil/data/extent.h"

namespace moedil::train {

struct MemoryEstimate {
  double parameters = 0;  ///< of one model (model::estimate_parameters)
  /// Bytes each parameter takes in training: float weights and gradients (4 + 4), plus the
  /// optimizer's state: adam and adamw 8 (two moments), sgd with momentum 4, sgd without 0.
  double bytes_per_parameter = 0;
  double models = 1;  ///< 2 with baselines: a baseline model trains beside the main one
  double model_bytes = 0;
  data::DatasetExtent data;
  /// Copies of the images held while training: the dataset itself, plus one per domain for
  /// the partitions that transform the images (rotate, noise, permute); the other partitions
  /// index into the dataset's images.
  double image_copies = 1;
  /// The images are memory-mapped from the decoded-image cache (an image-folder dataset with
  /// cache_dir, used without a copy: dataset_split "all", no mini_dataset, no transforming
  /// partition, no predecessor pretraining draw): the kernel pages them in and out, so they do
  /// not count against the memory (data_bytes 0).
  bool mapped = false;
  double data_bytes = 0;
  double total_bytes = 0;  ///< model_bytes + data_bytes (activations come on top)
};

/// The estimate for c (reads only the dataset's headers, see data::dataset_extent).
MemoryEstimate estimate_memory(const config::RunConfig& c);

/// The memory this process may use: the machine's physical RAM (sysconf), or the cgroup's
/// memory.max when that is lower.
uint64_t memory_limit_bytes();

/// "1.5 GiB", "312 MiB", "18 B": bytes in binary units, 3 significant digits.
std::string format_bytes(double bytes);

/// Throws ConfigError "<source>: the run needs an estimated X of memory, more than 90% of the Y
/// of this machine: model ..., images ...; ..." when estimate_memory(c).total_bytes exceeds
/// 0.9 `limit` (the rest is for activations, the process and the system); returns the estimate
/// otherwise.
MemoryEstimate check_memory(const config::RunConfig& c, const std::string& source,
                            uint64_t limit = memory_limit_bytes());

}  // namespace moedil::train
