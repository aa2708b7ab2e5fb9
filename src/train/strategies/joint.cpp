#include "moedil/train/strategies/joint.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "moedil/common/random.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

JointPlugin::JointPlugin(const config::RunConfig& config)
    : batch_size_(config.batch_size),
      shuffle_(config.shuffle),
      seed_(seed_of(config.seeds.loader)) {}

std::string JointPlugin::describe() const {
  return fmt::format("joint training: every epoch of domain d trains on domains 0..d together, "
                     "{}, in batches of {}",
                     shuffle_ ? "shuffled" : "in domain order", batch_size_);
}

void JointPlugin::on_domain_start(TrainingState& state) {
  // Built up to the current domain (a resumed run starts in the middle).
  for (int64_t d = pool_domains_; d <= state.pos.domain; ++d) {
    const std::vector<int64_t> rows = host_vector(state.data.domain(d).train_idx);
    for (const int64_t row : rows) pool_.push_back({d, row, state.data.label(d, row)});
  }
  pool_domains_ = std::max(pool_domains_, state.pos.domain + 1);
}

std::optional<EpochBatches> JointPlugin::epoch_batches(TrainingState& state) {
  const int64_t d = state.pos.domain;
  const int64_t e = state.pos.epoch;
  const auto n = static_cast<int64_t>(pool_.size());
  // Its own stream of seeds.loader: not the order the domain's loader would take.
  auto order = std::make_shared<std::vector<int64_t>>(
      shuffle_ ? random_permutation(n, mix_seed(seed_, {7000, seed_of(d), seed_of(e)}))
               : std::vector<int64_t>());
  if (!shuffle_) {
    for (int64_t k = 0; k < n; ++k) order->push_back(k);
  }
  EpochBatches out;
  out.num_steps = (n + batch_size_ - 1) / batch_size_;
  out.batch_at = [this, order, n, d, e, &data = state.data](int64_t step) {
    std::vector<ReplaySample> part;
    for (int64_t k = step * batch_size_; k < std::min(n, (step + 1) * batch_size_); ++k) {
      part.push_back(pool_[static_cast<std::size_t>((*order)[k])]);
    }
    auto [x, y] = data.gather(part, mix_seed(seed_, {7001, seed_of(d), seed_of(e), seed_of(step)}));
    const int64_t rows = y.size(0);
    return TrainBatch{std::move(x), std::move(y), rows, {}};
  };
  return out;
}

}  // namespace moedil::train
