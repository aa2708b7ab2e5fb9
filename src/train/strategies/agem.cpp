#include "moedil/train/strategies/agem.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/common/random.h"
#include "moedil/train/precision.h"
#include "moedil/train/strategies/memory_batch.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

bool agem_project(std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& reference) {
  torch::NoGradGuard no_grad;
  at::Tensor dot;
  at::Tensor ref_sq;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!reference[i].defined()) continue;
    const at::Tensor r = reference[i].to(at::kDouble);
    ref_sq = ref_sq.defined() ? ref_sq + r.pow(2).sum() : r.pow(2).sum();
    if (!grads[i].defined()) continue;
    const at::Tensor d = (grads[i].to(at::kDouble) * r).sum();
    dot = dot.defined() ? dot + d : d;
  }
  if (!dot.defined() || !ref_sq.defined()) return false;
  // One host read per step for both sums.
  const at::Tensor both = at::stack({dot, ref_sq}).to(at::kCPU);
  const double g_dot_r = both[0].item<double>();
  const double r_dot_r = both[1].item<double>();
  if (g_dot_r >= 0.0 || r_dot_r <= 0.0) return false;
  const double scale = g_dot_r / r_dot_r;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!reference[i].defined()) continue;
    const at::Tensor step = reference[i] * scale;
    grads[i] = grads[i].defined() ? grads[i] - step : -step;
  }
  return true;
}

AgemPlugin::AgemPlugin(const config::RunConfig& config)
    : memory_(config.replay.policy, config.replay.capacity,
              mix_seed(seed_of(config.seeds.replay), {7300u})),
      per_step_(static_cast<int64_t>(
          std::llround(config.replay.ratio * static_cast<double>(config.batch_size)))),
      seed_(mix_seed(seed_of(config.seeds.replay), {7301u})) {}

void AgemPlugin::before_step(TrainingState& state, const TrainBatch&) {
  if (memory_.size() == 0) return;
  const Position& p = state.pos;
  const MemoryBatch batch = draw_memory_batch(
      memory_, state.data, per_step_, mix_seed(seed_, {seed_of(p.domain), seed_of(p.epoch), seed_of(p.step)}));
  std::vector<at::Tensor> params = state.model.parameters();
  std::vector<at::Tensor> grads;
  for (auto& param : params) {
    grads.push_back(param.grad().defined() ? param.grad().detach().clone() : at::Tensor());
    param.mutable_grad() = at::Tensor();
  }
  at::Tensor loss;
  {
    const AutocastGuard autocast(state.config.amp, state.device);
    loss = at::cross_entropy_loss(state.model.forward(batch.images).to(at::kFloat), batch.labels);
  }
  loss.backward();
  std::vector<at::Tensor> reference;
  for (auto& param : params) {
    reference.push_back(param.grad().defined() ? param.grad().detach().clone() : at::Tensor());
  }
  if (agem_project(grads, reference)) ++projections_;
  for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i];
}

void AgemPlugin::on_domain_end(TrainingState& state) {
  const int64_t d = state.pos.domain;
  const data::Batches& batches = state.data.train_batches(d);
  // The domain's training samples in a seeded order (the loader's last shuffle is not reused).
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < batches.num_batches(); ++b) {
    const std::vector<int64_t> part = batches.host_rows(b);
    rows.insert(rows.end(), part.begin(), part.end());
  }
  std::sort(rows.begin(), rows.end());
  const std::vector<int64_t> order =
      random_permutation(static_cast<int64_t>(rows.size()), mix_seed(seed_, {seed_of(d), 9000}));
  std::vector<ReplaySample> samples;
  samples.reserve(rows.size());
  for (const int64_t k : order) {
    const int64_t row = rows[static_cast<std::size_t>(k)];
    samples.push_back({d, row, state.data.label(d, row)});
  }
  memory_.observe(samples);
}

nlohmann::json AgemPlugin::save_state(PluginTensors&) const {
  return {{"memory", memory_.save_state()}, {"projections", projections_}};
}

void AgemPlugin::load_state(const nlohmann::json& state, const PluginTensors&) {
  memory_.restore_state(state.at("memory"));
  projections_ = state.at("projections").get<int64_t>();
}

std::string AgemPlugin::describe() const {
  return fmt::format("A-GEM: {} memory of {} samples of earlier domains, {} drawn per step",
                     memory_.policy(), memory_.capacity(), per_step_);
}

}  // namespace moedil::train
