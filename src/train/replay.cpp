#include "moedil/train/replay.h"

#include <algorithm>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/suggest.h"

namespace moedil::train {
namespace {

// Stream ids mixed into the user seed, so the policy's choices and draw() never share a stream.
constexpr uint64_t kObserveStream = 0x7265706c61796f62ULL;  // "replayob"
constexpr uint64_t kDrawStream = 0x7265706c61796472ULL;     // "replaydr"
constexpr uint64_t kDistinctStream = 0x7265706c61796469ULL; // "replaydi"

/// fifo: append everything, then drop the oldest excess once: O(capacity + batch) per call.
void observe_fifo(ReplayState& m, const std::vector<ReplaySample>& samples) {
  m.seen += static_cast<int64_t>(samples.size());
  if (m.capacity == 0) return;
  m.contents.insert(m.contents.end(), samples.begin(), samples.end());
  const auto excess = static_cast<int64_t>(m.contents.size()) - m.capacity;
  if (excess > 0) m.contents.erase(m.contents.begin(), m.contents.begin() + excess);
}

/// reservoir: Vitter's algorithm R over everything ever offered.
void observe_reservoir(ReplayState& m, const ReplaySample& sample) {
  ++m.seen;
  if (static_cast<int64_t>(m.contents.size()) < m.capacity) {
    m.contents.push_back(sample);
    return;
  }
  if (m.capacity == 0) return;
  // Algorithm R: slot j uniform in [0, n); kept (at slot j) when j < capacity.
  const uint64_t j = uniform_below(m.engine, static_cast<uint64_t>(m.seen));
  if (j < static_cast<uint64_t>(m.capacity)) m.contents[static_cast<std::size_t>(j)] = sample;
}

/// Overwrites the `k`-th (0-based, slot order) held sample of class `label` with `sample`.
void replace_in_class(ReplayState& m, int64_t label, uint64_t k, const ReplaySample& sample) {
  for (ReplaySample& slot : m.contents) {
    if (slot.label != label) continue;
    if (k == 0) {
      slot = sample;
      return;
    }
    --k;
  }
}

/// class_balanced: class counts as equal as possible (see ReplayMemory::observe).
void observe_class_balanced(ReplayState& m, const ReplaySample& sample) {
  ++m.seen;
  const int64_t seen_of_class = ++m.class_seen[sample.label];
  if (static_cast<int64_t>(m.contents.size()) < m.capacity) {
    m.contents.push_back(sample);
    ++m.class_count[sample.label];
    return;
  }
  if (m.capacity == 0) return;
  // The largest class; std::map iterates ids ascending and `>` keeps the first, so ties go to
  // the smallest id. Memory is full and capacity > 0, so class_count has a positive entry.
  int64_t largest = 0;
  int64_t largest_count = -1;
  for (const auto& [label, count] : m.class_count) {
    if (count > largest_count) {
      largest = label;
      largest_count = count;
    }
  }
  const auto own = m.class_count.find(sample.label);
  const int64_t own_count = own == m.class_count.end() ? 0 : own->second;
  if (own_count == largest_count) {
    // Already a largest class: reservoir within the class, keeping its count unchanged.
    const uint64_t j = uniform_below(m.engine, static_cast<uint64_t>(seen_of_class));
    if (j < static_cast<uint64_t>(own_count)) replace_in_class(m, sample.label, j, sample);
    return;
  }
  const uint64_t k = uniform_below(m.engine, static_cast<uint64_t>(largest_count));
  replace_in_class(m, largest, k, sample);
  if (--m.class_count[largest] == 0) m.class_count.erase(largest);
  ++m.class_count[sample.label];
}

/// A policy that offers the samples one at a time.
template <void (*observe_one)(ReplayState&, const ReplaySample&)>
void each(ReplayState& m, const std::vector<ReplaySample>& samples) {
  for (const ReplaySample& sample : samples) observe_one(m, sample);
}

}  // namespace

bool ReplaySample::operator==(const ReplaySample& other) const {
  return domain == other.domain && index == other.index && label == other.label;
}

const Registry<ReplayPolicy>& replay_policy_registry() {
  static const Registry<ReplayPolicy> registry = [] {
    Registry<ReplayPolicy> r("replay policy");
    r.add("fifo", "the capacity most recent samples, oldest evicted first", observe_fifo);
    r.add("reservoir",
          "reservoir sampling (Vitter's algorithm R): every sample seen is kept with equal "
          "probability",
          each<observe_reservoir>);
    r.add("class_balanced",
          "keeps class counts as equal as possible: a full memory evicts from the largest class "
          "(reservoir within a class that is already largest)",
          each<observe_class_balanced>);
    return r;
  }();
  return registry;
}

ReplayMemory::ReplayMemory(std::string policy, int64_t capacity, uint64_t seed)
    : policy_name_(std::move(policy)) {
  const auto* entry = replay_policy_registry().find(policy_name_);
  if (!entry) {
    throw ConfigError(unknown_name_message("replay policy", policy_name_,
                                           replay_policy_registry().names()));
  }
  policy_ = entry->build;
  state_.capacity = capacity;
  state_.engine.seed(mix_seed(seed, {kObserveStream}));
  if (capacity < 0) {
    throw ConfigError("replay.capacity must be >= 0 (0 keeps nothing), got " +
                      std::to_string(capacity));
  }
}

void ReplayMemory::observe(const std::vector<ReplaySample>& samples) { policy_(state_, samples); }

std::vector<int64_t> ReplayMemory::draw_slots(int64_t n, uint64_t seed) const {
  std::vector<int64_t> out;
  const std::vector<ReplaySample>& contents = state_.contents;
  if (n <= 0 || contents.empty()) return out;
  std::mt19937_64 engine(mix_seed(seed, {kDrawStream}));
  out.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(
        static_cast<int64_t>(uniform_below(engine, static_cast<uint64_t>(contents.size()))));
  }
  return out;
}

std::vector<ReplaySample> ReplayMemory::draw(int64_t n, uint64_t seed) const {
  std::vector<ReplaySample> out;
  for (const int64_t slot : draw_slots(n, seed)) {
    out.push_back(state_.contents[static_cast<std::size_t>(slot)]);
  }
  return out;
}

std::vector<ReplaySample> ReplayMemory::draw_distinct(int64_t n, uint64_t seed) const {
  std::vector<ReplaySample> out;
  const auto size = static_cast<int64_t>(state_.contents.size());
  const int64_t k = std::min(n, size);
  if (k <= 0) return out;
  // A partial Fisher-Yates shuffle of the slot numbers: the first k are a uniform draw of k
  // distinct slots, in uniformly random order. The slots that moved are kept in a map (the
  // others hold their own number), so a step costs O(k), not O(memory size).
  std::unordered_map<int64_t, int64_t> moved;
  const auto slot_at = [&moved](int64_t p) {
    const auto it = moved.find(p);
    return it == moved.end() ? p : it->second;
  };
  std::mt19937_64 engine(mix_seed(seed, {kDistinctStream}));
  out.reserve(static_cast<std::size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const auto j = i + static_cast<int64_t>(
                           uniform_below(engine, static_cast<uint64_t>(size - i)));
    const int64_t chosen = slot_at(j);
    moved[j] = slot_at(i);
    moved[i] = chosen;
    out.push_back(state_.contents[static_cast<std::size_t>(chosen)]);
  }
  return out;
}

int64_t ReplayMemory::size() const { return static_cast<int64_t>(state_.contents.size()); }

int64_t ReplayMemory::capacity() const { return state_.capacity; }

int64_t ReplayMemory::seen() const { return state_.seen; }

const std::string& ReplayMemory::policy() const { return policy_name_; }

const std::vector<ReplaySample>& ReplayMemory::contents() const { return state_.contents; }

std::map<int64_t, int64_t> ReplayMemory::count_by_domain() const {
  std::map<int64_t, int64_t> counts;
  for (const ReplaySample& sample : state_.contents) ++counts[sample.domain];
  return counts;
}

std::map<int64_t, int64_t> ReplayMemory::count_by_class() const {
  std::map<int64_t, int64_t> counts;
  for (const ReplaySample& sample : state_.contents) ++counts[sample.label];
  return counts;
}

nlohmann::json ReplayMemory::save_state() const {
  nlohmann::json contents = nlohmann::json::array();
  for (const auto& x : state_.contents) contents.push_back({x.domain, x.index, x.label});
  std::ostringstream engine;
  engine << state_.engine;
  nlohmann::json class_seen = nlohmann::json::array();
  for (const auto& [label, n] : state_.class_seen) class_seen.push_back({label, n});
  return {{"policy", policy_name_}, {"capacity", state_.capacity}, {"seen", state_.seen},
          {"contents", contents},   {"engine", engine.str()}, {"class_seen", class_seen}};
}

void ReplayMemory::restore_state(const nlohmann::json& state) {
  try {
    if (state.at("policy").get<std::string>() != policy_name_ ||
        state.at("capacity").get<int64_t>() != state_.capacity) {
      throw DataError("replay memory checkpoint was saved with policy " +
                      state.at("policy").dump() + " and capacity " +
                      state.at("capacity").dump() + ", not " + policy_name_ + " and " +
                      std::to_string(state_.capacity));
    }
    std::vector<ReplaySample> contents;
    std::map<int64_t, int64_t> class_count;
    for (const auto& x : state.at("contents")) {
      contents.push_back({x.at(0).get<int64_t>(), x.at(1).get<int64_t>(), x.at(2).get<int64_t>()});
      ++class_count[contents.back().label];
    }
    std::map<int64_t, int64_t> class_seen;
    for (const auto& x : state.at("class_seen")) class_seen[x.at(0).get<int64_t>()] = x.at(1).get<int64_t>();
    std::istringstream engine_text(state.at("engine").get<std::string>());
    std::mt19937_64 engine;
    engine_text >> engine;
    if (engine_text.fail()) throw DataError("replay memory checkpoint: unreadable generator state");
    state_.seen = state.at("seen").get<int64_t>();
    state_.contents = std::move(contents);
    state_.class_count = std::move(class_count);
    state_.class_seen = std::move(class_seen);
    state_.engine = engine;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("replay memory checkpoint is malformed: ") + e.what());
  }
}

}  // namespace moedil::train
