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
#include "moedil/train/checkpoint.h"
#include "moedil/train/evaluate.h"
#include "moedil/train/optimizer.h"
#include "moedil/train/plugins/checkpointer.h"
#include "moedil/train/plugins/expert_merging.h"
#include "moedil/train/plugins/replay_mixing.h"
#include "moedil/train/plugins/schedules.h"
#include "moedil/train/precision.h"
#include "moedil/train/strategies/registry.h"

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



std::unique_ptr<torch::optim::Optimizer> optimizer_for(const model::Classifier& model,
                                                       const config::RunConfig& c,
                                                       std::vector<double>* multipliers) {
  const std::vector<ParamGroup> groups =
      make_param_groups(*model, c.router_lr_multiplier, c.moe_expert_lr_multiplier,
                        c.model.moe_unshared_lr_multipliers, c.model.moe_shared_lr_multipliers,
                        c.backbone_lr_multiplier);
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
      make_model_(std::move(make_model)),
      device_(device),
      num_classes_(num_classes),
      record_(record),
      data_(config, domains, device, mean, stddev),
      model_(make_model_()),
      optimizer_(optimizer_for(model_, config, &lr_multipliers_)),
      loss_(make_loss(config.loss, num_classes)),
      mean_(mean),
      stddev_(stddev) {
  add_plugin(std::make_unique<LrSchedulePlugin>(
      LrSchedule(config.scheduler, config.optimizer.lr, config.epochs_per_domain,
                 static_cast<int64_t>(domains.size())),
      lr_multipliers_));
  if (config.router_balancing) add_plugin(std::make_unique<BalanceAnnealingPlugin>());
  if (config.router_freeze_after_epochs >= 0 || config.router_freeze_per_domain_after_epochs > 0) {
    add_plugin(std::make_unique<RouterFreezingPlugin>(config_));
  }
  if (config.replay.enabled) add_plugin(std::make_unique<ReplayMixingPlugin>(config));
  if (config.expert_merging.enabled) {
    add_plugin(std::make_unique<ExpertMergingPlugin>(*model_, config.model.name,
                                                     config.expert_merging.every_steps, device));
  }
  const StrategyContext context{config, make_model_, device, num_classes};
  for (const std::string& name : config.strategy.names) {
    add_plugin(strategy_registry().get(name).build(context));
  }
  for (const auto& d : domains) record_.domains.push_back(d.name);
}

Trainer::~Trainer() = default;

void Trainer::add_plugin(std::unique_ptr<TrainerPlugin> plugin) {
  add_plugin(plugin.get());
  owned_plugins_.push_back(std::move(plugin));
}

void Trainer::add_plugin(TrainerPlugin* plugin) {
  for (const TrainerPlugin* p : plugins_) {
    if (p->name() == plugin->name()) {
      throw ConfigError("trainer plugin '" + plugin->name() + "' is added twice");
    }
  }
  plugins_.push_back(plugin);
}

void Trainer::enable_checkpoints(std::filesystem::path path) {
  add_plugin(std::make_unique<CheckpointerPlugin>(std::move(path)));
}

std::vector<io::EvalRecord> Trainer::evaluate_all(model::ClassifierImpl& model) {
  const AutocastGuard autocast(config_.amp, device_);
  const std::vector<Evaluation> evaluations = evaluate_splits(model, test_splits(), num_classes_);
  std::vector<io::EvalRecord> out;
  for (int64_t j = 0; j < data_.num_domains(); ++j) {
    const Evaluation& ev = evaluations[static_cast<std::size_t>(j)];
    out.push_back({data_.name(j), ev.acc, ev.loss, square(ev.confusion, num_classes_),
                   usage_by_layer(ev.usage)});
  }
  return out;
}

std::vector<const data::Batches*> Trainer::test_splits() const {
  std::vector<const data::Batches*> splits;
  for (int64_t j = 0; j < data_.num_domains(); ++j) splits.push_back(&data_.test_batches(j));
  return splits;
}

void Trainer::evaluate_initial() {
  const AutocastGuard autocast(config_.amp, device_);
  record_.init_acc.clear();
  for (const Evaluation& ev : evaluate_splits(*model_, test_splits(), num_classes_)) {
    record_.init_acc.push_back(ev.acc);
  }
}

Trainer::EpochStats Trainer::fit(model::ClassifierImpl& model,
                                 torch::optim::Optimizer& optimizer, Loss& loss,
                                 int64_t num_steps, const BatchFn& batch_at,
                                 double balance_weight, const std::string& where,
                                 TrainingState* state) {
  model.train();
  const auto on_device = at::TensorOptions().device(device_);
  at::Tensor loss_sum = at::zeros({}, on_device.dtype(at::kDouble));
  at::Tensor aux_sum = at::zeros({}, on_device.dtype(at::kDouble));
  at::Tensor correct = at::zeros({}, on_device.dtype(at::kLong));
  at::Tensor first_bad = at::full({}, -1, on_device.dtype(at::kLong));
  EpochStats stats;
  const auto epoch_start = Clock::now();
  for (int64_t step = 0; step < num_steps; ++step) {
    if (const int signal = stop_requested().load(); signal != 0) {
      throw InterruptedError("interrupted at " + where + ", step " + std::to_string(step + 1) +
                                 "/" + std::to_string(num_steps) +
                                 (signal == 15 ? " (SIGTERM)" : ""),
                             signal == 15 ? 15 : 2);
    }
    TrainBatch batch = batch_at(step);
    if (state) {
      state->pos.step = step;
      for (TrainerPlugin* plugin : state->plugins) plugin->on_batch(*state, batch);
    }
    const at::Tensor& y = batch.labels;
    at::Tensor logits;
    at::Tensor task;
    at::Tensor total;
    at::Tensor weighted_aux;
    at::Tensor terms;  ///< the plugins' loss terms (undefined: none)
    {
      const AutocastGuard autocast(config_.amp, device_);  // forward and losses only
      logits = model.forward(batch.images);
      task = loss(logits, y).to(at::kFloat);
      total = task;
      const at::Tensor aux = model.aux_loss();
      weighted_aux = at::zeros_like(task);
      if (balance_weight > 0.0 && aux.defined()) {
        weighted_aux = aux.to(at::kFloat) * balance_weight;
        total = total + weighted_aux;
      }
      if (state) {
        for (TrainerPlugin* plugin : state->plugins) {
          const at::Tensor term = plugin->loss_term(*state, batch, logits);
          if (!term.defined()) continue;
          terms = terms.defined() ? terms + term.to(at::kFloat) : term.to(at::kFloat);
        }
        if (terms.defined()) total = total + terms;
      }
    }
    // Undefined, not zero-filled: an expert that got no rows this step is not stepped, with or
    // without a resume in between, on LibTorch 1.13 and 2.x alike (see clear_gradients).
    clear_gradients(optimizer);
    total.backward();
    if (state) {
      for (TrainerPlugin* plugin : state->plugins) plugin->before_step(*state, batch);
    }
    optimizer.step();
    const at::Tensor task_value = task.detach();
    const at::Tensor aux_value = weighted_aux.detach();
    // Device-side bookkeeping only: remember the first step whose loss was not finite.
    at::Tensor finite = at::isfinite(task_value).logical_and(at::isfinite(aux_value));
    if (terms.defined()) finite = finite.logical_and(at::isfinite(terms.detach()));
    const at::Tensor bad = finite.logical_not();
    first_bad.masked_fill_(bad.logical_and(first_bad.lt(0)), step);
    loss_sum.add_(task_value.to(at::kDouble) * static_cast<double>(y.size(0)));
    aux_sum.add_(aux_value.to(at::kDouble));
    correct.add_(logits.argmax(1).eq(y).sum());
    stats.samples += y.size(0);
    ++stats.steps;
    if (state) {
      state->pos.seconds = seconds_since(epoch_start);
      for (TrainerPlugin* plugin : state->plugins) plugin->after_step(*state, batch, task_value);
    }
  }
  // The one host read of the epoch.
  const at::Tensor host =
      at::stack({loss_sum, aux_sum, correct.to(at::kDouble), first_bad.to(at::kDouble)})
          .to(at::kCPU);
  const auto values = host.accessor<double, 1>();
  if (values[3] >= 0) {
    throw TrainingError("non-finite loss at " + where + ", step " +
                        std::to_string(static_cast<int64_t>(values[3]) + 1) + "/" +
                        std::to_string(num_steps) + "; " +
                        config::nonfinite_loss_hint(config_));
  }
  stats.loss_sum = values[0];
  stats.aux_sum = values[1];
  stats.correct = static_cast<int64_t>(values[2]);
  return stats;
}

void Trainer::set_pretraining_set(partition::Domain set) {
  pretraining_data_.reset();
  pretraining_set_ = {std::move(set)};
  pretraining_data_ =
      std::make_unique<TrainingData>(config_, pretraining_set_, device_, mean_, stddev_);
}

void Trainer::pretrain() {
  if (!pretrains(config_)) return;
  const auto start = Clock::now();
  const bool from_dataset = config_.pretrain.draw == "dataset";
  if (from_dataset && !pretraining_data_) {
    throw DataError("pretrain.draw 'dataset': no pretraining samples were drawn for this run "
                    "(partition::make_run_domains draws them)");
  }
  const TrainingData& source = from_dataset ? *pretraining_data_ : data_;
  // Candidates per class: every training sample of every domain.
  std::vector<std::vector<ReplaySample>> by_class(static_cast<std::size_t>(num_classes_));
  for (int64_t d = 0; !from_dataset && d < data_.num_domains(); ++d) {
    const std::vector<int64_t> rows = host_vector(data_.domain(d).train_idx);
    const at::Tensor labels = data_.train_labels(d);
    const std::vector<int64_t> ys = host_vector(labels);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      by_class[ys[i]].push_back({d, rows[i], ys[i]});
    }
  }
  // Equal share per class (the remainder to the first classes), drawn with or without
  // replacement by seeds.pretrain.
  std::vector<ReplaySample> chosen;
  io::PretrainRecord rec;
  rec.class_counts.assign(static_cast<std::size_t>(num_classes_), 0);
  const uint64_t pretrain_seed = seed_of(config_.seeds.pretrain);
  const int64_t n = config_.pretrain.num_samples;
  if (from_dataset) {
    // Drawn before partitioning, in the order drawn (make_run_domains).
    const std::vector<int64_t> ys = host_vector(pretraining_set_.front().labels);
    for (std::size_t k = 0; k < ys.size(); ++k) {
      chosen.push_back({0, static_cast<int64_t>(k), ys[k]});
      ++rec.class_counts[static_cast<std::size_t>(ys[k])];
    }
  }
  for (int64_t c = 0; !from_dataset && c < num_classes_; ++c) {
    const auto& pool = by_class[c];
    int64_t want = n / num_classes_ + (c < n % num_classes_ ? 1 : 0);
    if (pool.empty() || want == 0) continue;
    const uint64_t seed = mix_seed(pretrain_seed, {seed_of(c)});
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
  torch::manual_seed(pretrain_seed);
  std::vector<int64_t> chosen_labels;
  for (const auto& s : chosen) chosen_labels.push_back(s.label);
  // Pretraining has its own loss, weighted by the pretraining samples' labels: the run's loss
  // sees the domains only, so cumulative weights are the same after a resume.
  const std::unique_ptr<Loss> pretrain_loss = make_loss(config_.loss, num_classes_);
  pretrain_loss->on_domain_start(data::index_tensor(chosen_labels));
  for (int64_t e = 0; e < rec.epochs; ++e) {
    const std::vector<int64_t> order =
        random_permutation(rec.num_samples, mix_seed(pretrain_seed, {1000, seed_of(e)}));
    const auto batch_at = [&](int64_t step) {
      std::vector<ReplaySample> part;
      for (int64_t k = step * batch; k < std::min(rec.num_samples, (step + 1) * batch); ++k) {
        part.push_back(chosen[order[k]]);
      }
      auto [x, y] =
          source.gather(part, mix_seed(pretrain_seed, {2000, seed_of(e), seed_of(step)}));
      return TrainBatch{x, y, y.size(0), {}};
    };
    const double lr = config_.optimizer.lr * pretrain_lr_factor(config_, e);
    set_lr(*optimizer_, lr, lr_multipliers_);
    rec.lr.push_back(lr);
    // The predecessor's router freezing counts pretraining epochs as global epochs 0, 1, ...
    const bool frozen = config_.router_freeze_after_epochs >= 0 &&
                        e > config_.router_freeze_after_epochs;
    set_routers_frozen(*model_, frozen);
    rec.routers_frozen.push_back(frozen);
    model_->on_epoch_start(0, e);  // annealing models follow their schedule here too
    const std::string where =
        "pretraining epoch " + std::to_string(e + 1) + "/" + std::to_string(rec.epochs);
    const EpochStats stats = fit(*model_, *optimizer_, *pretrain_loss, steps, batch_at,
                                 balance_weight(config_, e, e), where, nullptr);
    rec.train_loss = stats.loss_sum / static_cast<double>(stats.samples);
    rec.train_acc = static_cast<double>(stats.correct) / static_cast<double>(stats.samples);
  }
  set_routers_frozen(*model_, false);  // the domains' epochs decide for themselves
  rec.eval = evaluate_all(*model_);
  rec.seconds = seconds_since(start);
  record_.pretrain = std::move(rec);
}

void Trainer::run_baselines() {
  if (!config_.baseline.accuracies.empty()) {
    // Measured before (the predecessor's baseline.accuracies): one per domain.
    if (static_cast<int64_t>(config_.baseline.accuracies.size()) != data_.num_domains()) {
      throw ConfigError("baseline.accuracies has " +
                        std::to_string(config_.baseline.accuracies.size()) +
                        " values but the run has " + std::to_string(data_.num_domains()) +
                        " domains: give one baseline accuracy per domain");
    }
    record_.baseline_acc = config_.baseline.accuracies;
    return;
  }
  if (!config_.baseline.enabled) return;
  // Start every baseline from the current weights (after pretraining, if any).
  std::vector<at::Tensor> start_state;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : model_->parameters()) start_state.push_back(p.detach().clone());
    for (const auto& b : model_->buffers()) start_state.push_back(b.detach().clone());
  }
  std::vector<double> accuracies;
  const uint64_t baseline_seed = seed_of(config_.seeds.baseline);
  config::RunConfig baseline_config = config_;  // the baselines' own expert LR, when given
  if (config_.baseline.expert_lr_multiplier >= 0.0) {
    baseline_config.moe_expert_lr_multiplier = config_.baseline.expert_lr_multiplier;
  }
  // Each baseline follows the run's schedule afresh over its own epochs (a new scheduler per
  // baseline, as the predecessor's): epoch e trains at the schedule's lr of epoch e of one
  // domain of baseline.epochs epochs. A warm-up that leaves no epoch of it is left out.
  config::SchedulerConfig baseline_schedule = config_.scheduler;
  const int64_t baseline_epochs = std::max<int64_t>(config_.baseline.epochs, 1);
  if (baseline_schedule.warmup_epochs >= baseline_epochs) baseline_schedule.warmup_epochs = 0;
  const LrSchedule schedule(baseline_schedule, config_.optimizer.lr, baseline_epochs, 1);
  for (int64_t d = 0; d < data_.num_domains(); ++d) {
    model::Classifier fresh = make_model_();
    {
      torch::NoGradGuard no_grad;
      std::size_t k = 0;
      for (auto& p : fresh->parameters()) p.copy_(start_state[k++]);
      for (auto& b : fresh->buffers()) b.copy_(start_state[k++]);
    }
    std::vector<double> multipliers;
    auto optimizer = optimizer_for(fresh, baseline_config, &multipliers);
    std::unique_ptr<Loss> loss = make_loss(config_.loss, num_classes_);
    loss->on_domain_start(data_.train_labels(d));
    data::Batches batches = data_.train_batches(d);
    torch::manual_seed(mix_seed(baseline_seed, {seed_of(d)}));
    for (int64_t e = 0; e < config_.baseline.epochs; ++e) {
      set_lr(*optimizer, schedule.lr(0, e), multipliers);
      fresh->on_epoch_start(d, e);
      if (config_.shuffle) batches.shuffle(mix_seed(baseline_seed, {seed_of(d), seed_of(e)}));
      fit(*fresh, *optimizer, *loss, batches.num_batches(),
          [&](int64_t step) {
            auto [x, y] = data_.training_batch(
                batches, step, mix_seed(baseline_seed, {3000, seed_of(d), seed_of(e)}));
            return TrainBatch{x, y, y.size(0), {}};
          },
          balance_weight(config_, e, e),  // a baseline anneals over its own epochs
          "baseline of domain " + std::to_string(d + 1) + " (" + data_.name(d) + "), epoch " +
              std::to_string(e + 1) + "/" + std::to_string(config_.baseline.epochs),
          nullptr);
    }
    const AutocastGuard autocast(config_.amp, device_);
    accuracies.push_back(evaluate(*fresh, data_.test_batches(d), num_classes_).acc);
  }
  record_.baseline_acc = accuracies;
}

void Trainer::resume(const std::filesystem::path& path) {
  CheckpointTensors tensors;
  const nlohmann::json state = load_checkpoint(path, *model_, *optimizer_, device_, &tensors);
  const std::string where = "checkpoint " + path.string();
  try {
    io::RunRecord record = io::run_record_from_json(state.at("record"), where);
    if (record.domains != record_.domains) {
      throw DataError(where + " was written for other domains than this config gives");
    }
    for (TrainerPlugin* plugin : plugins_) {
      const std::string name = plugin->name();
      if (state.contains(name) && !state.at(name).is_null()) {
        plugin->load_state(state.at(name), tensors[name]);
        continue;
      }
      PluginTensors probe;
      if (!plugin->save_state(probe).is_null() || !probe.empty()) {
        throw DataError(where + " holds no state of '" + name +
                        "': it was written by a run with another config");
      }
    }
    start_domain_ = state.at("next_domain").get<int64_t>();
    start_epoch_ = state.at("next_epoch").get<int64_t>();
    resumed_ = true;
    record_ = std::move(record);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(where + " has a malformed state: " + e.what());
  }
}

void Trainer::run() {
  const int64_t num_domains = data_.num_domains();
  const int64_t num_epochs = config_.epochs_per_domain;
  if (record_.init_acc.empty()) evaluate_initial();
  if (record_.r_history.size() != static_cast<std::size_t>(num_epochs)) {
    record_.r_history.assign(static_cast<std::size_t>(num_epochs), {});
  }
  // Domains finished before a resume still shape the loss (cumulative class weights).
  for (int64_t d = 0; d < std::min(start_domain_, num_domains); ++d) {
    loss_->on_domain_start(data_.train_labels(d));
  }
  Position start;
  start.num_domains = num_domains;
  start.num_epochs = num_epochs;
  start.domain = start_domain_;
  start.epoch = start_epoch_;
  TrainingState state{config_, *model_, *optimizer_, record_, data_, device_, plugins_, start};
  state.resumed = resumed_;
  state.loss = loss_.get();
  for (TrainerPlugin* plugin : plugins_) plugin->on_run_start(state);
  for (int64_t d = start_domain_; d < num_domains; ++d) {
    loss_->on_domain_start(data_.train_labels(d));
    state.pos.domain = d;
    state.pos.epoch = d == start_domain_ ? start_epoch_ : 0;
    for (TrainerPlugin* plugin : plugins_) plugin->on_domain_start(state);
    for (int64_t e = state.pos.epoch; e < num_epochs; ++e) {
      state.pos.epoch = e;
      train_epoch(state);
    }
  }
  for (TrainerPlugin* plugin : plugins_) plugin->on_run_end(state);
}

void Trainer::train_epoch(TrainingState& state) {
  const int64_t d = state.pos.domain;
  const int64_t e = state.pos.epoch;
  const auto start = Clock::now();
  model_->on_epoch_start(d, e);
  torch::manual_seed(mix_seed(seed_of(config_.seeds.training), {seed_of(d), seed_of(e)}));
  io::EpochRecord epoch;
  epoch.domain = d;
  epoch.epoch = e;
  data::Batches& batches = data_.train_batches(d);
  state.epoch = &epoch;
  state.balance_weight = 0.0;
  state.pos.step = 0;
  state.pos.seconds = 0.0;
  std::optional<EpochBatches> supplied;
  for (TrainerPlugin* plugin : plugins_) {
    std::optional<EpochBatches> b = plugin->epoch_batches(state);
    if (!b) continue;
    if (supplied) {
      throw ConfigError("two trainer plugins supply the batches of one epoch (the second: '" +
                        plugin->name() + "')");
    }
    supplied = std::move(b);
  }
  state.pos.num_steps = supplied ? supplied->num_steps : batches.num_batches();
  for (TrainerPlugin* plugin : plugins_) plugin->on_epoch_start(state);
  if (config_.shuffle && !supplied) {
    batches.shuffle(mix_seed(seed_of(config_.seeds.loader), {seed_of(d), seed_of(e)}));
  }
  model_->reset_expert_usage(/*training=*/true);

  const uint64_t augment_seed =
      mix_seed(seed_of(config_.seeds.loader), {4000, seed_of(d), seed_of(e)});
  const auto loader_batch_at = [&](int64_t step) {
    auto [x, y] = data_.training_batch(batches, step, augment_seed);
    const int64_t n = y.size(0);
    return TrainBatch{std::move(x), std::move(y), n, batches.host_rows(step)};
  };
  const BatchFn batch_at = supplied ? BatchFn(supplied->batch_at) : BatchFn(loader_batch_at);
  const std::string where =
      "domain " + std::to_string(d + 1) + "/" + std::to_string(data_.num_domains()) + " (" +
      data_.name(d) + "), epoch " + std::to_string(e + 1) + "/" +
      std::to_string(config_.epochs_per_domain);
  const EpochStats stats = fit(*model_, *optimizer_, *loss_, state.pos.num_steps, batch_at,
                               state.balance_weight, where, &state);
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
  const bool last_epoch = state.pos.last_epoch();
  if (last_epoch) record_.r_matrix.push_back(row);
  state.epoch = nullptr;
  record_.epochs.push_back(std::move(epoch));
  if (last_epoch && state.pos.last_domain()) {
    record_.metrics =
        metrics::compute_cl_metrics(record_.r_matrix, record_.init_acc, record_.baseline_acc);
  }
  if (last_epoch) {
    for (TrainerPlugin* plugin : plugins_) plugin->on_domain_end(state);
  }
  for (TrainerPlugin* plugin : plugins_) plugin->on_epoch_end(state);
}

}  // namespace moedil::train
