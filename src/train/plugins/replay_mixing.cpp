#include "moedil/train/plugins/replay_mixing.h"

#include <fmt/format.h>

#include <cmath>

#include "moedil/common/random.h"
#include "moedil/train/loss.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

ReplayMixingPlugin::ReplayMixingPlugin(const config::RunConfig& config)
    : memory_(config.replay.policy, config.replay.capacity, seed_of(config.seeds.replay)),
      separate_(config.replay.mode == "separate"),
      per_batch_(static_cast<int64_t>(
          std::llround(config.replay.ratio * static_cast<double>(config.batch_size)))),
      seed_(seed_of(config.seeds.replay)) {}

void ReplayMixingPlugin::on_batch(TrainingState& state, TrainBatch& batch) {
  if (separate_ || per_batch_ == 0 || memory_.size() == 0) return;
  const Position& p = state.pos;
  const uint64_t seed = mix_seed(seed_, {seed_of(p.domain), seed_of(p.epoch), seed_of(p.step)});
  const auto replayed = state.data.gather(memory_.draw(per_batch_, seed), mix_seed(seed, {5000}));
  if (state.epoch) state.epoch->replayed += replayed.second.size(0);
  batch.images = at::cat({batch.images, replayed.first}, 0);
  batch.labels = at::cat({batch.labels, replayed.second}, 0);
}

at::Tensor ReplayMixingPlugin::loss_term(TrainingState& state, const TrainBatch& batch,
                                         const at::Tensor&) {
  if (!separate_ || memory_.size() == 0 || batch.num_current == 0) return {};
  const Position& p = state.pos;
  const uint64_t seed = mix_seed(seed_, {seed_of(p.domain), seed_of(p.epoch), seed_of(p.step)});
  const auto [images, labels] = state.data.gather(memory_.draw_distinct(batch.num_current, seed),
                                                  mix_seed(seed, {5000}));
  if (state.epoch) state.epoch->replayed += labels.size(0);
  const at::Tensor logits = state.model.forward(images);
  return state.loss ? (*state.loss)(logits, labels) : at::cross_entropy_loss(logits, labels);
}

void ReplayMixingPlugin::after_step(TrainingState& state, const TrainBatch& batch,
                                    const at::Tensor&) {
  // The memory sees this step's new samples only after the step has trained on them.
  const int64_t d = state.pos.domain;
  std::vector<ReplaySample> seen;
  seen.reserve(batch.current_rows.size());
  for (const int64_t row : batch.current_rows) seen.push_back({d, row, state.data.label(d, row)});
  memory_.observe(seen);
}

void ReplayMixingPlugin::on_domain_end(TrainingState& state) {
  state.record.replay.push_back({state.pos.domain, memory_.size(), memory_.seen(),
                                 memory_.count_by_domain(), memory_.count_by_class()});
}

std::string ReplayMixingPlugin::describe() const {
  if (separate_) {
    return fmt::format("experience replay: {} memory of {} samples, a separate batch of as many "
                       "memory samples as new ones every step, its loss added",
                       memory_.policy(), memory_.capacity());
  }
  return fmt::format("experience replay: {} memory of {} samples, {} replayed into every batch",
                     memory_.policy(), memory_.capacity(), per_batch_);
}

}  // namespace moedil::train
