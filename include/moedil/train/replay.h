#pragma once
// Replay memory for continual learning (config `replay`): a bounded store of indices of samples
// seen in earlier training, filled by a named policy and sampled into later batches. Torch-free;
// all randomness is mt19937_64 with our own unbiased draw, so a seed gives the same memory and
// the same draws on every platform.
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/common/registry.h"

namespace moedil::train {

/// One remembered training sample: which domain it came from, its row in that domain's images,
/// and its label. Memory holds indices, never image copies.
struct ReplaySample {
  int64_t domain = 0;
  int64_t index = 0;
  int64_t label = 0;

  /// Same domain, index and label.
  bool operator==(const ReplaySample& other) const;
};

/// What a replay policy keeps up to date: the memory's contents and counters.
struct ReplayState {
  int64_t capacity = 0;  ///< the most samples kept (>= 0)
  int64_t seen = 0;      ///< samples ever offered
  std::vector<ReplaySample> contents;
  std::mt19937_64 engine;  ///< the policy's random choices
  /// Held per class: kept up to date by the policies that read it (class_balanced); set from
  /// the contents when a checkpoint is restored.
  std::map<int64_t, int64_t> class_count;
  std::map<int64_t, int64_t> class_seen;  ///< offered per class (class_balanced)
};

/// A replay policy: offers samples (in order) to the memory's state, deciding what is kept.
using ReplayPolicy = std::function<void(ReplayState&, const std::vector<ReplaySample>&)>;

/// The replay policies (`replay.policy`), in order fifo, reservoir, class_balanced; `moedil
/// list` and config validation take their names from here. To add one, add it in replay.cpp.
const Registry<ReplayPolicy>& replay_policy_registry();

/// A bounded memory of training samples, filled by one policy (see observe()).
class ReplayMemory {
 public:
  /// `policy` is a name in replay_policy_registry(); `capacity` >= 0 (0 keeps nothing); `seed` drives
  /// the policy's random choices. Throws ConfigError for an unknown policy (listing the valid
  /// names) or a negative capacity.
  ReplayMemory(std::string policy, int64_t capacity, uint64_t seed);

  /// Offers samples seen in training, in order (several calls behave as one call with the
  /// samples concatenated). What the policies keep:
  /// fifo: keeps the `capacity` most recent, oldest evicted first; contents() is oldest first.
  /// reservoir: Vitter's algorithm R over everything ever offered (the n-th offered sample,
  /// n > capacity, replaces a uniformly random slot with probability capacity / n), so every
  /// sample seen is kept with equal probability.
  /// class_balanced: while not full, keep everything. When full, if the new sample's class has
  /// as many samples as the largest class (it is a largest class, ties included), it replaces a
  /// uniformly random sample of its own class with probability (count of its class) / (seen of
  /// its class), i.e. reservoir within the class; otherwise it replaces a uniformly random
  /// sample of the largest class (ties: the smallest class id). This keeps class counts as
  /// equal as possible.
  void observe(const std::vector<ReplaySample>& samples);

  /// n samples drawn uniformly with replacement from memory, using a generator seeded by `seed`
  /// (so the same seed gives the same draw). Empty memory or n <= 0 -> empty.
  std::vector<ReplaySample> draw(int64_t n, uint64_t seed) const;
  /// The slots (indices into contents()) of draw(n, seed): the same draw.
  std::vector<int64_t> draw_slots(int64_t n, uint64_t seed) const;
  /// min(n, size()) samples drawn uniformly WITHOUT replacement (distinct slots, in draw order),
  /// by a generator seeded by `seed` (the predecessor's replay batch). n <= 0 -> empty.
  std::vector<ReplaySample> draw_distinct(int64_t n, uint64_t seed) const;

  /// Samples held now (at most capacity()).
  int64_t size() const;
  /// The most samples memory holds.
  int64_t capacity() const;
  /// Samples ever offered to observe().
  int64_t seen() const;
  /// The policy name given at construction.
  const std::string& policy() const;
  /// What memory holds now (for fifo oldest first; otherwise in slot order).
  const std::vector<ReplaySample>& contents() const;

  /// Counts per domain of what memory holds now (keyed by domain id; absent domains left out).
  std::map<int64_t, int64_t> count_by_domain() const;
  /// Counts per class of what memory holds now (keyed by label; absent classes left out).
  std::map<int64_t, int64_t> count_by_class() const;

  /// Everything that determines future behaviour (contents, counters, generator state), for
  /// checkpoints. restore_state(save_state()) on a memory built with the same policy and
  /// capacity makes it behave exactly like the saved one from then on.
  nlohmann::json save_state() const;
  /// Throws DataError when `state` is malformed or was saved by another policy or capacity.
  void restore_state(const nlohmann::json& state);

 private:
  std::string policy_name_;
  ReplayPolicy policy_;
  ReplayState state_;
};

}  // namespace moedil::train
