#pragma once
// Replay memory for continual learning (config `replay`): a bounded store of indices of samples
// seen in earlier training, filled by a named policy and sampled into later batches. Torch-free;
// all randomness is mt19937_64 with our own unbiased draw, so a seed gives the same memory and
// the same draws on every platform.
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

/// The valid `replay.policy` names: {"fifo", "reservoir", "class_balanced"}.
const std::vector<std::string>& replay_policy_names();

/// A bounded memory of training samples, filled by one policy (see observe()).
class ReplayMemory {
 public:
  /// `policy` is one of replay_policy_names(); `capacity` >= 0 (0 keeps nothing); `seed` drives
  /// the policy's random choices. Throws ConfigError for an unknown policy (listing the valid
  /// names) or a negative capacity.
  ReplayMemory(std::string policy, int64_t capacity, uint64_t seed);

  /// Offers samples seen in training, in order (several calls behave as one call with the
  /// samples concatenated).
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
  enum class Policy { kFifo, kReservoir, kClassBalanced };

  void observe_reservoir(const ReplaySample& sample);
  void observe_class_balanced(const ReplaySample& sample);
  /// Overwrites the `k`-th (0-based, slot order) held sample of class `label` with `sample`.
  void replace_in_class(int64_t label, uint64_t k, const ReplaySample& sample);

  std::string policy_name_;
  Policy policy_;
  int64_t capacity_;
  int64_t seen_ = 0;
  std::vector<ReplaySample> contents_;
  std::mt19937_64 engine_;
  std::map<int64_t, int64_t> class_count_;  ///< class_balanced: held per class
  std::map<int64_t, int64_t> class_seen_;   ///< class_balanced: offered per class
};

}  // namespace moedil::train
