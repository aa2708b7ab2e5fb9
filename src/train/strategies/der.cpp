#include "moedil/train/strategies/der.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/data/dataset.h"
#include "moedil/train/strategies/memory_batch.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

DerPlugin::DerPlugin(const config::RunConfig& config, int64_t num_classes, at::Device device,
                     bool plus)
    : memory_(config.replay.policy, config.replay.capacity,
              mix_seed(seed_of(config.seeds.replay), {7100u})),
      logits_(at::zeros({config.replay.capacity, num_classes},
                        at::TensorOptions().dtype(at::kFloat).device(device))),
      per_step_(static_cast<int64_t>(
          std::llround(config.replay.ratio * static_cast<double>(config.batch_size)))),
      alpha_(config.strategy.der_alpha),
      beta_(config.strategy.der_beta),
      plus_(plus),
      seed_(mix_seed(seed_of(config.seeds.replay), {7200u})) {
  if (config.replay.policy == "fifo") {
    throw ConfigError(std::string(plus ? "derpp" : "der") +
                      ": replay.policy \"fifo\" moves samples between slots, so stored logits "
                      "would leave their samples; use \"reservoir\" (the paper's) or "
                      "\"class_balanced\"");
  }
}

at::Tensor DerPlugin::loss_term(TrainingState& state, const TrainBatch& batch,
                                const at::Tensor& logits) {
  pending_ = logits.slice(0, 0, batch.num_current).detach().to(at::kFloat);
  if (memory_.size() == 0) return {};
  const Position& p = state.pos;
  const uint64_t seed = mix_seed(seed_, {seed_of(p.domain), seed_of(p.epoch), seed_of(p.step)});
  const MemoryBatch first = draw_memory_batch(memory_, state.data, per_step_, seed);
  const at::Tensor stored =
      logits_.index_select(0, data::index_tensor(first.slots).to(logits_.device()));
  at::Tensor term = at::mse_loss(state.model.forward(first.images).to(at::kFloat), stored) * alpha_;
  if (plus_ && beta_ > 0.0) {
    const MemoryBatch second =
        draw_memory_batch(memory_, state.data, per_step_, mix_seed(seed, {1}));
    term = term + at::cross_entropy_loss(state.model.forward(second.images).to(at::kFloat),
                                         second.labels) * beta_;
  }
  return term;
}

void DerPlugin::after_step(TrainingState& state, const TrainBatch& batch, const at::Tensor&) {
  const int64_t d = state.pos.domain;
  // Slots whose sample changed (or that were filled) get the logits of their new sample.
  const std::vector<ReplaySample> before = memory_.contents();
  std::vector<ReplaySample> seen;
  std::map<std::pair<int64_t, int64_t>, int64_t> row_of;  // (domain, index) -> row in batch
  for (std::size_t i = 0; i < batch.current_rows.size(); ++i) {
    const int64_t row = batch.current_rows[i];
    seen.push_back({d, row, state.data.label(d, row)});
    row_of[{d, row}] = static_cast<int64_t>(i);
  }
  memory_.observe(seen);
  const auto& after = memory_.contents();
  std::vector<int64_t> slots;
  std::vector<int64_t> rows;
  for (std::size_t k = 0; k < after.size(); ++k) {
    if (k < before.size() && after[k] == before[k]) continue;
    const auto it = row_of.find({after[k].domain, after[k].index});
    if (it == row_of.end()) continue;  // cannot happen: only this step's samples are new
    slots.push_back(static_cast<int64_t>(k));
    rows.push_back(it->second);
  }
  if (slots.empty()) return;
  torch::NoGradGuard no_grad;
  const at::Tensor slot_index = data::index_tensor(slots).to(logits_.device());
  const at::Tensor row_index = data::index_tensor(rows).to(pending_.device());
  logits_.index_copy_(0, slot_index, pending_.index_select(0, row_index).to(logits_.device()));
}

nlohmann::json DerPlugin::save_state(PluginTensors& tensors) const {
  tensors["logits"] = logits_;
  return {{"memory", memory_.save_state()}};
}

void DerPlugin::load_state(const nlohmann::json& state, const PluginTensors& tensors) {
  const auto it = tensors.find("logits");
  if (it == tensors.end() || !it->second.sizes().equals(logits_.sizes())) {
    throw DataError(name() + ": the checkpoint's stored logits are missing or of another shape");
  }
  memory_.restore_state(state.at("memory"));
  logits_ = it->second.to(logits_.device()).clone();
}

std::string DerPlugin::describe() const {
  return fmt::format("{}: alpha {}{}; {} memory of {} samples, {} drawn per step",
                     plus_ ? "DER++" : "DER", alpha_, plus_ ? fmt::format(" beta {}", beta_) : "",
                     memory_.policy(), memory_.capacity(), per_step_);
}

}  // namespace moedil::train
