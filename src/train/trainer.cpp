#include "moedil/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/utils.h>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/stop.h"
#include "moedil/config/nonfinite_hint.h"
#include "moedil/data/dataset.h"
#include "moedil/metrics/cl_metrics.h"
#include "moedil/model/moe/merging.h"
#include "moedil/train/checkpoint.h"
#include "moedil/train/evaluate.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/precision.h"

namespace moedil::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::vector<int64_t>> square(const std::vector<int64_t>& cells, int64_t n) {
  std::vector<std::vector<int64_t>> rows(static_cast<std::size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    rows[t].assign(cells.begin() + t * n, cells.begin() + (t + 1) * n);
  }
  return rows;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU).to(at::kLong).contiguous();
  return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
}

uint64_t u64(int64_t v) { return static_cast<uint64_t>(v); }

std::unique_ptr<torch::optim::Optimizer> optimizer_for(const model::Classifier& model,
                                                       const config::RunConfig& c,
                                                       std::vector<double>* multipliers) {
  const std::vector<ParamGroup> groups =
      make_param_groups(*model, c.router_lr_multiplier, c.moe_expert_lr_multiplier);
  if (multipliers) {
    multipliers->clear();
    for (const auto& g : groups) multipliers->push_back(g.lr_multiplier);
  }
  return make_optimizer(groups, c.optimizer);
}

}  // namespace

std::atomic<int>& stop_requested() { return stop_flag(); }

io::UsageByLayer usage_by_layer(const std::vector<model::ExpertUsage>& usage) {
  io::UsageByLayer out;
  for (const auto& layer : usage) out[layer.layer] = layer.counts;
  return out;
}

Trainer::Trainer(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
                 ModelFactory make_model, at::Device device, int64_t num_classes,
                 const std::vector<double>& mean, const std::vector<double>& stddev,
                 io::RunRecord& record)
    : config_(config),
      domains_(domains),
      make_model_(std::move(make_model)),
      device_(device),
      num_classes_(num_classes),
      record_(record),
      model_(make_model_()),
      optimizer_(optimizer_for(model_, config, &lr_multipliers_)),
      loss_(make_loss(config.loss, num_classes)),
      schedule_(config.scheduler, config.optimizer.lr, config.epochs_per_domain,
                static_cast<int64_t>(domains.size())),
      normalizer_(mean, stddev, device),
      augment_(config.augmentation) {
  if (config_.replay.enabled) {
    replay_.emplace(config_.replay.policy, config_.replay.capacity, u64(config_.seeds.replay));
  }
  if (config_.expert_merging.enabled) check_mergeable(*model_, config_.model.name);
  for (const auto& d : domains_) {
    // Each domain's images go to the device once; batches are cut there.
    images_.push_back(d.images.to(device));
    labels_.push_back(d.labels.to(device));
    host_labels_.push_back(to_vector(d.labels));
    train_batches_.emplace_back(images_.back(), labels_.back(), d.train_idx, config_.batch_size,
                                normalizer_);
    test_batches_.emplace_back(images_.back(), labels_.back(), d.test_idx,
                               config_.eval_batch_size, normalizer_);
    record_.domains.push_back(d.name);
  }
}

std::vector<io::EvalRecord> Trainer::evaluate_all(model::ClassifierImpl& model) {
  const AutocastGuard autocast(config_.amp, device_);
  std::vector<io::EvalRecord> out;
  for (std::size_t j = 0; j < domains_.size(); ++j) {
    const Evaluation ev = evaluate(model, test_batches_[j], num_classes_);
    out.push_back({domains_[j].name, ev.acc, ev.loss, square(ev.confusion, num_classes_),
                   usage_by_layer(ev.usage)});
  }
  return out;
}

void Trainer::evaluate_initial() {
  const AutocastGuard autocast(config_.amp, device_);
  record_.init_acc.clear();
  for (const auto& batches : test_batches_) {
    record_.init_acc.push_back(evaluate(*model_, batches, num_classes_).acc);
  }
}

std::pair<at::Tensor, at::Tensor> Trainer::training_batch(const data::Batches& batches,
                                                          int64_t step, uint64_t seed) const {
  if (!augment_.enabled()) return batches.get(step);
  return batches.get(step, [&](const at::Tensor& u8) {
    return augment_(u8, mix_seed(seed, {u64(step)}));
  });
}

std::pair<at::Tensor, at::Tensor> Trainer::gather(const std::vector<ReplaySample>& samples,
                                                  uint64_t seed) const {
  std::map<int64_t, std::vector<int64_t>> rows_by_domain;
  for (const auto& s : samples) rows_by_domain[s.domain].push_back(s.index);
  std::vector<at::Tensor> xs;
  std::vector<at::Tensor> ys;
  for (const auto& [domain, rows] : rows_by_domain) {
    const at::Tensor index = data::index_tensor(rows).to(device_);
    xs.push_back(images_[domain].index_select(0, index));
    ys.push_back(labels_[domain].index_select(0, index));
  }
  return {normalizer_(augment_(at::cat(xs, 0), seed)), at::cat(ys, 0)};
}

double Trainer::balance_weight(int64_t epoch) const {
  if (!config_.router_balancing) return 0.0;
  const int64_t anneal = config_.router_balance_anneal_epochs;
  if (anneal <= 0) return config_.router_balance_strength;
  const double progress = static_cast<double>(std::min(epoch, anneal)) / static_cast<double>(anneal);
  return config_.router_balance_max +
         (config_.router_balance_min - config_.router_balance_max) * progress;
}

void check_mergeable(const model::ClassifierImpl& model, const std::string& model_name) {
  if (model.moe_layers().empty()) {
    throw ConfigError("expert_merging.enabled: model '" + model_name +
                      "' has no MoE layers whose experts could be merged");
  }
  for (const auto& layer : model.moe_layers()) {
    const auto n = static_cast<int64_t>(layer.experts->size());
    if (n < 3) {
      throw ConfigError("expert_merging.enabled: MoE layer " + layer.name + " has " +
                        std::to_string(n) + " experts; merging needs at least 3 (" +
                        (model_name == "hetero_moe" ? "model.hetero_experts"
                                                    : "model.moe_num_unshared_experts") +
                        ")");
    }
    if (!model::moe::experts_mergeable(layer.experts)) {
      throw ConfigError("expert_merging.enabled: the experts of MoE layer " + layer.name +
                        " differ in architecture and cannot be averaged");
    }
  }
}

void Trainer::merge_experts(int64_t domain, int64_t epoch, int64_t step) {
  for (const auto& layer : model_->moe_layers()) {
    const std::vector<int64_t> counts = to_vector(layer.mixture->selection_counts());
    const model::moe::MergeChoice choice = model::moe::choose_merge(counts);
    torch::nn::ModuleList experts = layer.experts;
    const std::vector<at::Tensor> replaced = model::moe::merge_experts(experts, choice);
    reset_optimizer_state(*optimizer_, replaced);
    record_.merges.push_back(
        {domain, epoch, step, layer.name, choice.target, {choice.first, choice.second}, counts});
  }
}

void Trainer::set_routers_frozen(bool frozen) {
  for (auto& item : model_->named_parameters()) {
    if (item.key().find("router.") == std::string::npos) continue;
    item.value().set_requires_grad(!frozen);
    // An undefined gradient makes every optimizer skip the parameter (no momentum drift).
    if (frozen) item.value().mutable_grad() = at::Tensor();
  }
}

Trainer::EpochStats Trainer::fit(model::ClassifierImpl& model,
                                 torch::optim::Optimizer& optimizer, Loss& loss,
                                 int64_t num_steps, const BatchFn& batch_at,
                                 double balance_weight, const std::string& where,
                                 const std::function<void(int64_t, const at::Tensor&)>& after_step) {
  model.train();
  const auto on_device = at::TensorOptions().device(device_);
  at::Tensor loss_sum = at::zeros({}, on_device.dtype(at::kDouble));
  at::Tensor aux_sum = at::zeros({}, on_device.dtype(at::kDouble));
  at::Tensor correct = at::zeros({}, on_device.dtype(at::kLong));
  at::Tensor first_bad = at::full({}, -1, on_device.dtype(at::kLong));
  EpochStats stats;
  for (int64_t step = 0; step < num_steps; ++step) {
    if (const int signal = stop_requested().load(); signal != 0) {
      throw InterruptedError("interrupted at " + where + ", step " + std::to_string(step) +
                                 (signal == 15 ? " (SIGTERM)" : ""),
                             signal == 15 ? 15 : 2);
    }
    const auto [x, y] = batch_at(step);
    at::Tensor logits;
    at::Tensor task;
    at::Tensor total;
    at::Tensor weighted_aux;
    {
      const AutocastGuard autocast(config_.amp, device_);  // forward and losses only
      logits = model.forward(x);
      task = loss(logits, y).to(at::kFloat);
      total = task;
      const at::Tensor aux = model.aux_loss();
      weighted_aux = at::zeros_like(task);
      if (balance_weight > 0.0 && aux.defined()) {
        weighted_aux = aux.to(at::kFloat) * balance_weight;
        total = total + weighted_aux;
      }
    }
    // Undefined, not zero-filled: an expert that got no rows this step is not stepped, with or
    // without a resume in between, on LibTorch 1.13 and 2.x alike (see clear_gradients).
    clear_gradients(optimizer);
    total.backward();
    optimizer.step();
    const at::Tensor task_value = task.detach();
    const at::Tensor aux_value = weighted_aux.detach();
    // Device-side bookkeeping only: remember the first step whose loss was not finite.
    const at::Tensor bad = at::isfinite(task_value).logical_and(at::isfinite(aux_value)).logical_not();
    first_bad.masked_fill_(bad.logical_and(first_bad.lt(0)), step);
    loss_sum.add_(task_value.to(at::kDouble) * static_cast<double>(y.size(0)));
    aux_sum.add_(aux_value.to(at::kDouble));
    correct.add_(logits.argmax(1).eq(y).sum());
    stats.samples += y.size(0);
    ++stats.steps;
    if (after_step) after_step(step, task_value);
  }
  // The one host read of the epoch.
  const at::Tensor host =
      at::stack({loss_sum, aux_sum, correct.to(at::kDouble), first_bad.to(at::kDouble)})
          .to(at::kCPU);
  const auto values = host.accessor<double, 1>();
  if (values[3] >= 0) {
    throw TrainingError("non-finite loss at " + where + ", step " +
                        std::to_string(static_cast<int64_t>(values[3])) + "; " +
                        config::nonfinite_loss_hint(config_));
  }
  stats.loss_sum = values[0];
  stats.aux_sum = values[1];
  stats.correct = static_cast<int64_t>(values[2]);
  return stats;
}

void Trainer::pretrain() {
  if (!config_.pretrain.enabled) return;
  const auto start = Clock::now();
  // Candidates per class: every training sample of every domain.
  std::vector<std::vector<ReplaySample>> by_class(static_cast<std::size_t>(num_classes_));
  for (std::size_t d = 0; d < domains_.size(); ++d) {
    const std::vector<int64_t> rows = to_vector(domains_[d].train_idx);
    const at::Tensor labels = domains_[d].labels.index_select(0, domains_[d].train_idx);
    const std::vector<int64_t> ys = to_vector(labels);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      by_class[ys[i]].push_back({static_cast<int64_t>(d), rows[i], ys[i]});
    }
  }
  // Equal share per class (the remainder to the first classes), drawn with or without
  // replacement by seeds.pretrain.
  std::vector<ReplaySample> chosen;
  io::PretrainRecord rec;
  rec.class_counts.assign(static_cast<std::size_t>(num_classes_), 0);
  const int64_t n = config_.pretrain.num_samples;
  for (int64_t c = 0; c < num_classes_; ++c) {
    const auto& pool = by_class[c];
    int64_t want = n / num_classes_ + (c < n % num_classes_ ? 1 : 0);
    if (pool.empty() || want == 0) continue;
    const uint64_t seed = mix_seed(u64(config_.seeds.pretrain), {u64(c)});
    if (config_.pretrain.with_replacement) {
      std::mt19937_64 engine(seed);
      for (int64_t k = 0; k < want; ++k) chosen.push_back(pool[uniform_below(engine, pool.size())]);
    } else {
      want = std::min<int64_t>(want, static_cast<int64_t>(pool.size()));
      const std::vector<int64_t> order = random_permutation(static_cast<int64_t>(pool.size()), seed);
      for (int64_t k = 0; k < want; ++k) chosen.push_back(pool[order[k]]);
    }
    rec.class_counts[c] = want;
  }
  if (chosen.empty()) throw DataError("pretrain: no training samples to draw from");
  rec.num_samples = static_cast<int64_t>(chosen.size());
  rec.epochs = config_.pretrain.epochs;
  const int64_t batch = config_.batch_size;
  const auto steps = (rec.num_samples + batch - 1) / batch;
  torch::manual_seed(u64(config_.seeds.pretrain));
  std::vector<int64_t> chosen_labels;
  for (const auto& s : chosen) chosen_labels.push_back(s.label);
  loss_->on_domain_start(data::index_tensor(chosen_labels));
  for (int64_t e = 0; e < rec.epochs; ++e) {
    const std::vector<int64_t> order =
        random_permutation(rec.num_samples, mix_seed(u64(config_.seeds.pretrain), {1000, u64(e)}));
    const auto batch_at = [&](int64_t step) {
      std::vector<ReplaySample> part;
      for (int64_t k = step * batch; k < std::min(rec.num_samples, (step + 1) * batch); ++k) {
        part.push_back(chosen[order[k]]);
      }
      return gather(part, mix_seed(u64(config_.seeds.pretrain), {2000, u64(e), u64(step)}));
    };
    set_lr(*optimizer_, config_.optimizer.lr, lr_multipliers_);
    model_->on_epoch_start(0, e);  // annealing models follow their schedule here too
    const EpochStats stats = fit(*model_, *optimizer_, *loss_, steps, batch_at, balance_weight(e),
                                 "pretraining epoch " + std::to_string(e), {});
    rec.train_loss = stats.loss_sum / static_cast<double>(stats.samples);
    rec.train_acc = static_cast<double>(stats.correct) / static_cast<double>(stats.samples);
  }
  rec.eval = evaluate_all(*model_);
  rec.seconds = seconds_since(start);
  record_.pretrain = std::move(rec);
}

void Trainer::run_baselines() {
  if (!config_.baseline.enabled) return;
  // Start every baseline from the current weights (after pretraining, if any).
  std::vector<at::Tensor> start_state;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : model_->parameters()) start_state.push_back(p.detach().clone());
    for (const auto& b : model_->buffers()) start_state.push_back(b.detach().clone());
  }
  std::vector<double> accuracies;
  for (std::size_t d = 0; d < domains_.size(); ++d) {
    model::Classifier fresh = make_model_();
    {
      torch::NoGradGuard no_grad;
      std::size_t k = 0;
      for (auto& p : fresh->parameters()) p.copy_(start_state[k++]);
      for (auto& b : fresh->buffers()) b.copy_(start_state[k++]);
    }
    auto optimizer = optimizer_for(fresh, config_, nullptr);
    std::unique_ptr<Loss> loss = make_loss(config_.loss, num_classes_);
    loss->on_domain_start(domains_[d].labels.index_select(0, domains_[d].train_idx));
    data::Batches batches = train_batches_[d];
    torch::manual_seed(mix_seed(u64(config_.seeds.baseline), {u64(d)}));
    for (int64_t e = 0; e < config_.baseline.epochs; ++e) {
      fresh->on_epoch_start(static_cast<int64_t>(d), e);
      if (config_.shuffle) batches.shuffle(mix_seed(u64(config_.seeds.baseline), {u64(d), u64(e)}));
      fit(*fresh, *optimizer, *loss, batches.num_batches(),
          [&](int64_t step) {
            return training_batch(batches, step,
                                  mix_seed(u64(config_.seeds.baseline), {3000, u64(d), u64(e)}));
          },
          balance_weight(e),
          "baseline of domain " + std::to_string(d) + " (" + domains_[d].name + "), epoch " +
              std::to_string(e),
          {});
    }
    const AutocastGuard autocast(config_.amp, device_);
    accuracies.push_back(evaluate(*fresh, test_batches_[d], num_classes_).acc);
  }
  record_.baseline_acc = accuracies;
}

void Trainer::resume(const std::filesystem::path& path) {
  const nlohmann::json state = load_checkpoint(path, *model_, *optimizer_, device_);
  const std::string where = "checkpoint " + path.string();
  try {
    io::RunRecord record = io::run_record_from_json(state.at("record"), where);
    if (record.domains != record_.domains) {
      throw DataError(where + " was written for other domains than this config gives");
    }
    if (replay_) replay_->restore_state(state.at("replay"));
    if (state.contains("selection_counts")) restore_selection_state(state.at("selection_counts"));
    start_domain_ = state.at("next_domain").get<int64_t>();
    start_epoch_ = state.at("next_epoch").get<int64_t>();
    record_ = std::move(record);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(where + " has a malformed state: " + e.what());
  }
}

nlohmann::json Trainer::selection_state() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& layer : model_->moe_layers()) {
    out[layer.name] = to_vector(layer.mixture->selection_counts());
  }
  return out;
}

void Trainer::restore_selection_state(const nlohmann::json& state) {
  for (const auto& layer : model_->moe_layers()) {
    if (!state.contains(layer.name)) continue;
    const auto counts = state.at(layer.name).get<std::vector<int64_t>>();
    layer.mixture->set_selection_counts(data::index_tensor(counts).to(device_));
  }
}

void Trainer::run() {
  const auto num_domains = static_cast<int64_t>(domains_.size());
  const int64_t num_epochs = config_.epochs_per_domain;
  if (record_.init_acc.empty()) evaluate_initial();
  if (record_.r_history.size() != static_cast<std::size_t>(num_epochs)) {
    record_.r_history.assign(static_cast<std::size_t>(num_epochs), {});
  }
  // Domains finished before a resume still shape the loss (cumulative class weights).
  for (int64_t d = 0; d < std::min(start_domain_, num_domains); ++d) {
    loss_->on_domain_start(domains_[d].labels.index_select(0, domains_[d].train_idx));
  }
  const int64_t replay_per_batch =
      replay_ ? static_cast<int64_t>(std::llround(config_.replay.ratio *
                                                  static_cast<double>(config_.batch_size)))
              : 0;
  const int64_t merge_every = config_.expert_merging.enabled ? config_.expert_merging.every_steps : 0;
  for (int64_t d = start_domain_; d < num_domains; ++d) {
    loss_->on_domain_start(domains_[d].labels.index_select(0, domains_[d].train_idx));
    data::Batches& batches = train_batches_[d];
    const int64_t first_epoch = d == start_domain_ ? start_epoch_ : 0;
    // Expert selections are counted per domain (a resumed domain's tally came back with it).
    if (first_epoch == 0) {
      for (const auto& layer : model_->moe_layers()) layer.mixture->reset_selection_counts();
    }
    for (int64_t e = first_epoch; e < num_epochs; ++e) {
      const auto start = Clock::now();
      model_->on_epoch_start(d, e);
      torch::manual_seed(mix_seed(u64(config_.seeds.training), {u64(d), u64(e)}));
      io::EpochRecord epoch;
      epoch.domain = d;
      epoch.epoch = e;
      epoch.lr = schedule_.lr(d, e);
      set_lr(*optimizer_, epoch.lr, lr_multipliers_);
      epoch.routers_frozen =
          config_.router_freeze_after_epochs > 0 && e >= config_.router_freeze_after_epochs;
      set_routers_frozen(epoch.routers_frozen);
      epoch.balance_weight = balance_weight(e);
      if (config_.shuffle) batches.shuffle(mix_seed(u64(config_.seeds.loader), {u64(d), u64(e)}));
      model_->reset_expert_usage(/*training=*/true);

      StepInfo info;
      info.domain = d;
      info.num_domains = num_domains;
      info.epoch = e;
      info.num_epochs = num_epochs;
      info.num_steps = batches.num_batches();
      const auto batch_at = [&](int64_t step) -> std::pair<at::Tensor, at::Tensor> {
        auto current =
            training_batch(batches, step, mix_seed(u64(config_.seeds.loader), {4000, u64(d), u64(e)}));
        if (!replay_ || replay_per_batch == 0 || replay_->size() == 0) return current;
        const uint64_t replay_seed = mix_seed(u64(config_.seeds.replay), {u64(d), u64(e), u64(step)});
        const auto replayed =
            gather(replay_->draw(replay_per_batch, replay_seed), mix_seed(replay_seed, {5000}));
        epoch.replayed += replayed.second.size(0);
        return {at::cat({current.first, replayed.first}, 0),
                at::cat({current.second, replayed.second}, 0)};
      };
      const auto after_step = [&](int64_t step, const at::Tensor& loss) {
        if (replay_) {
          // The memory sees this step's new samples only after the step has trained on them.
          const std::vector<int64_t> rows = batches.host_rows(step);
          std::vector<ReplaySample> seen;
          for (const int64_t row : rows) seen.push_back({d, row, host_labels_[d][row]});
          replay_->observe(seen);
        }
        if (merge_every > 0) {
          const int64_t domain_step = e * info.num_steps + step + 1;
          if (domain_step % merge_every == 0) merge_experts(d, e, domain_step);
        }
        info.step = step;
        info.loss = [&loss] { return loss.item<double>(); };
        info.seconds = seconds_since(start);
        for (auto* observer : observers_) observer->on_step(info);
      };
      const std::string where = "domain " + std::to_string(d) + " (" + domains_[d].name +
                                "), epoch " + std::to_string(e);
      const EpochStats stats = fit(*model_, *optimizer_, *loss_, info.num_steps, batch_at,
                                   epoch.balance_weight, where, after_step);
      const auto n = static_cast<double>(stats.samples);
      epoch.train_loss = stats.loss_sum / n;
      epoch.aux_loss = stats.steps > 0 ? stats.aux_sum / static_cast<double>(stats.steps) : 0.0;
      epoch.train_acc = static_cast<double>(stats.correct) / n;
      const auto train_usage = model_->expert_usage(/*training=*/true);
      epoch.expert_usage = usage_by_layer(train_usage);
      for (const auto& layer : train_usage) {
        epoch.dropped_fraction[layer.layer] = layer.dropped_fraction;
        epoch.routing_entropy[layer.layer] = layer.routing_entropy;
        epoch.dead_experts[layer.layer] = std::count(layer.counts.begin(), layer.counts.end(), 0);
      }
      epoch.seconds = seconds_since(start);
      epoch.samples_per_s = epoch.seconds > 0 ? n / epoch.seconds : 0.0;

      const auto eval_start = Clock::now();
      epoch.eval = evaluate_all(*model_);
      epoch.eval_seconds = seconds_since(eval_start);
      std::vector<double> row;
      for (const auto& v : epoch.eval) row.push_back(v.acc);
      record_.r_history[e].push_back(row);
      if (e == num_epochs - 1) record_.r_matrix.push_back(row);
      record_.epochs.push_back(std::move(epoch));
      if (e == num_epochs - 1 && replay_) {
        record_.replay.push_back({d, replay_->size(), replay_->seen(), replay_->count_by_domain(),
                                  replay_->count_by_class()});
      }
      if (d == num_domains - 1 && e == num_epochs - 1) {
        record_.metrics =
            metrics::compute_cl_metrics(record_.r_matrix, record_.init_acc, record_.baseline_acc);
      }
      if (!checkpoint_path_.empty()) {
        const bool last_epoch = e == num_epochs - 1;
        nlohmann::json state = {{"next_domain", last_epoch ? d + 1 : d},
                                {"next_epoch", last_epoch ? 0 : e + 1},
                                {"record", io::to_json(record_)},
                                {"replay", replay_ ? replay_->save_state() : nlohmann::json()},
                                {"selection_counts", selection_state()}};
        save_checkpoint(checkpoint_path_, *model_, *optimizer_, state);
      }
      for (auto* observer : observers_) observer->on_epoch_end(record_);
    }
  }
  set_routers_frozen(false);
}

}  // namespace moedil::train
