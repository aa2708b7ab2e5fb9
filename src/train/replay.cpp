#include "moedil/train/replay.h"

#include <limits>
#include <sstream>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/suggest.h"

namespace moedil::train {
namespace {

// Stream ids mixed into the user seed, so the policy's choices and draw() never share a stream.
constexpr uint64_t kObserveStream = 0x7265706c61796f62ULL;  // "replayob"
constexpr uint64_t kDrawStream = 0x7265706c61796472ULL;     // "replaydr"

}  // namespace

bool ReplaySample::operator==(const ReplaySample& other) const {
  return domain == other.domain && index == other.index && label == other.label;
}

const std::vector<std::string>& replay_policy_names() {
  static const std::vector<std::string> names = {"fifo", "reservoir", "class_balanced"};
  return names;
}

ReplayMemory::ReplayMemory(std::string policy, int64_t capacity, uint64_t seed)
    : policy_name_(std::move(policy)),
      policy_(Policy::kFifo),
      capacity_(capacity),
      engine_(mix_seed(seed, {kObserveStream})) {
  if (policy_name_ == "fifo") {
    policy_ = Policy::kFifo;
  } else if (policy_name_ == "reservoir") {
    policy_ = Policy::kReservoir;
  } else if (policy_name_ == "class_balanced") {
    policy_ = Policy::kClassBalanced;
  } else {
    throw ConfigError(unknown_name_message("replay policy", policy_name_, replay_policy_names()));
  }
  if (capacity_ < 0) {
    throw ConfigError("replay.capacity must be >= 0 (0 keeps nothing), got " +
                      std::to_string(capacity_));
  }
}

void ReplayMemory::observe(const std::vector<ReplaySample>& samples) {
  if (policy_ == Policy::kFifo) {
    // Append everything, then drop the oldest excess once: O(capacity + batch) per call.
    seen_ += static_cast<int64_t>(samples.size());
    if (capacity_ == 0) return;
    contents_.insert(contents_.end(), samples.begin(), samples.end());
    const auto excess = static_cast<int64_t>(contents_.size()) - capacity_;
    if (excess > 0) contents_.erase(contents_.begin(), contents_.begin() + excess);
    return;
  }
  for (const ReplaySample& sample : samples) {
    if (policy_ == Policy::kReservoir) {
      observe_reservoir(sample);
    } else {
      observe_class_balanced(sample);
    }
  }
}

void ReplayMemory::observe_reservoir(const ReplaySample& sample) {
  ++seen_;
  if (static_cast<int64_t>(contents_.size()) < capacity_) {
    contents_.push_back(sample);
    return;
  }
  if (capacity_ == 0) return;
  // Algorithm R: slot j uniform in [0, n); kept (at slot j) when j < capacity.
  const uint64_t j = uniform_below(engine_, static_cast<uint64_t>(seen_));
  if (j < static_cast<uint64_t>(capacity_)) contents_[static_cast<std::size_t>(j)] = sample;
}

void ReplayMemory::observe_class_balanced(const ReplaySample& sample) {
  ++seen_;
  const int64_t seen_of_class = ++class_seen_[sample.label];
  if (static_cast<int64_t>(contents_.size()) < capacity_) {
    contents_.push_back(sample);
    ++class_count_[sample.label];
    return;
  }
  if (capacity_ == 0) return;
  // The largest class; std::map iterates ids ascending and `>` keeps the first, so ties go to
  // the smallest id. Memory is full and capacity > 0, so class_count_ has a positive entry.
  int64_t largest = 0;
  int64_t largest_count = -1;
  for (const auto& [label, count] : class_count_) {
    if (count > largest_count) {
      largest = label;
      largest_count = count;
    }
  }
  const auto own = class_count_.find(sample.label);
  const int64_t own_count = own == class_count_.end() ? 0 : own->second;
  if (own_count == largest_count) {
    // Already a largest class: reservoir within the class, keeping its count unchanged.
    const uint64_t j = uniform_below(engine_, static_cast<uint64_t>(seen_of_class));
    if (j < static_cast<uint64_t>(own_count)) replace_in_class(sample.label, j, sample);
    return;
  }
  const uint64_t k = uniform_below(engine_, static_cast<uint64_t>(largest_count));
  replace_in_class(largest, k, sample);
  if (--class_count_[largest] == 0) class_count_.erase(largest);
  ++class_count_[sample.label];
}

void ReplayMemory::replace_in_class(int64_t label, uint64_t k, const ReplaySample& sample) {
  for (ReplaySample& slot : contents_) {
    if (slot.label != label) continue;
    if (k == 0) {
      slot = sample;
      return;
    }
    --k;
  }
}

std::vector<int64_t> ReplayMemory::draw_slots(int64_t n, uint64_t seed) const {
  std::vector<int64_t> out;
  if (n <= 0 || contents_.empty()) return out;
  std::mt19937_64 engine(mix_seed(seed, {kDrawStream}));
  out.reserve(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(static_cast<int64_t>(
        uniform_below(engine, static_cast<uint64_t>(contents_.size()))));
  }
  return out;
}

std::vector<ReplaySample> ReplayMemory::draw(int64_t n, uint64_t seed) const {
  std::vector<ReplaySample> out;
  for (const int64_t slot : draw_slots(n, seed)) {
    out.push_back(contents_[static_cast<std::size_t>(slot)]);
  }
  return out;
}

int64_t ReplayMemory::size() const { return static_cast<int64_t>(contents_.size()); }

int64_t ReplayMemory::capacity() const { return capacity_; }

int64_t ReplayMemory::seen() const { return seen_; }

const std::string& ReplayMemory::policy() const { return policy_name_; }

const std::vector<ReplaySample>& ReplayMemory::contents() const { return contents_; }

std::map<int64_t, int64_t> ReplayMemory::count_by_domain() const {
  std::map<int64_t, int64_t> counts;
  for (const ReplaySample& sample : contents_) ++counts[sample.domain];
  return counts;
}

std::map<int64_t, int64_t> ReplayMemory::count_by_class() const {
  std::map<int64_t, int64_t> counts;
  for (const ReplaySample& sample : contents_) ++counts[sample.label];
  return counts;
}

nlohmann::json ReplayMemory::save_state() const {
  nlohmann::json contents = nlohmann::json::array();
  for (const auto& x : contents_) contents.push_back({x.domain, x.index, x.label});
  std::ostringstream engine;
  engine << engine_;
  nlohmann::json class_seen = nlohmann::json::array();
  for (const auto& [label, n] : class_seen_) class_seen.push_back({label, n});
  return {{"policy", policy_name_}, {"capacity", capacity_}, {"seen", seen_},
          {"contents", contents},   {"engine", engine.str()}, {"class_seen", class_seen}};
}

void ReplayMemory::restore_state(const nlohmann::json& state) {
  try {
    if (state.at("policy").get<std::string>() != policy_name_ ||
        state.at("capacity").get<int64_t>() != capacity_) {
      throw DataError("replay memory checkpoint was saved with policy " +
                      state.at("policy").dump() + " and capacity " +
                      state.at("capacity").dump() + ", not " + policy_name_ + " and " +
                      std::to_string(capacity_));
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
    seen_ = state.at("seen").get<int64_t>();
    contents_ = std::move(contents);
    if (policy_ == Policy::kClassBalanced) class_count_ = std::move(class_count);
    class_seen_ = std::move(class_seen);
    engine_ = engine;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(std::string("replay memory checkpoint is malformed: ") + e.what());
  }
}

}  // namespace moedil::train
