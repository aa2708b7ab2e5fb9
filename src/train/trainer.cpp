#include "moedil/train/trainer.h"

#include <chrono>
#include <cmath>

#include <ATen/ATen.h>
#include <torch/utils.h>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/metrics/cl_metrics.h"
#include "moedil/train/evaluate.h"
#include "moedil/train/optimizer.h"

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

}  // namespace

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

io::UsageByLayer usage_by_layer(const std::vector<model::ExpertUsage>& usage) {
  io::UsageByLayer out;
  for (const auto& layer : usage) out[layer.layer] = layer.counts;
  return out;
}

Trainer::Trainer(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
                 model::Classifier model, torch::optim::Optimizer& optimizer, at::Device device,
                 int64_t num_classes, const std::vector<double>& mean,
                 const std::vector<double>& stddev, io::RunRecord& record)
    : config_(config),
      domains_(domains),
      model_(std::move(model)),
      optimizer_(optimizer),
      device_(device),
      num_classes_(num_classes),
      record_(record) {
  const data::Normalizer normalizer(mean, stddev, device);
  for (const auto& d : domains_) {
    // Each domain's images go to the device once; batches are cut there.
    const at::Tensor images = d.images.to(device);
    const at::Tensor labels = d.labels.to(device);
    train_batches_.emplace_back(images, labels, d.train_idx, config_.batch_size, normalizer);
    test_batches_.emplace_back(images, labels, d.test_idx, config_.batch_size, normalizer);
    record_.domains.push_back(d.name);
  }
}

void Trainer::evaluate_initial() {
  record_.init_acc.clear();
  for (const auto& batches : test_batches_) {
    record_.init_acc.push_back(evaluate(*model_, batches, num_classes_).acc);
  }
}

void Trainer::run() {
  const auto num_domains = static_cast<int64_t>(domains_.size());
  const int64_t num_epochs = config_.epochs_per_domain;
  record_.r_history.assign(static_cast<std::size_t>(num_epochs), {});
  torch::manual_seed(static_cast<uint64_t>(config_.seeds.training));
  for (int64_t d = 0; d < num_domains; ++d) {
    for (int64_t e = 0; e < num_epochs; ++e) {
      io::EpochRecord epoch;
      epoch.domain = d;
      epoch.epoch = e;
      train_epoch(d, e, epoch);
      evaluate_all(epoch);
      std::vector<double> row;
      for (const auto& v : epoch.eval) row.push_back(v.acc);
      record_.r_history[e].push_back(row);
      if (e == num_epochs - 1) record_.r_matrix.push_back(row);
      record_.epochs.push_back(std::move(epoch));
      if (d == num_domains - 1 && e == num_epochs - 1) {
        record_.metrics =
            metrics::compute_cl_metrics(record_.r_matrix, record_.init_acc, record_.baseline_acc);
      }
      for (auto* observer : observers_) observer->on_epoch_end(record_);
    }
  }
}

void Trainer::train_epoch(int64_t domain, int64_t epoch, io::EpochRecord& out) {
  const auto start = Clock::now();
  data::Batches& batches = train_batches_[domain];
  if (config_.shuffle) {
    batches.shuffle(mix_seed(static_cast<uint64_t>(config_.seeds.loader),
                             {static_cast<uint64_t>(domain), static_cast<uint64_t>(epoch)}));
  }
  model_->train();
  model_->reset_expert_usage(/*training=*/true);
  const bool balance = config_.router_balancing && config_.router_balance_strength > 0.0;
  double loss_sum = 0.0;
  double aux_sum = 0.0;
  at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device_));
  StepInfo info;
  info.domain = domain;
  info.num_domains = static_cast<int64_t>(domains_.size());
  info.epoch = epoch;
  info.num_epochs = config_.epochs_per_domain;
  info.num_steps = batches.num_batches();
  for (int64_t step = 0; step < info.num_steps; ++step) {
    if (stop_requested().load()) {
      throw InterruptedError("interrupted at domain " + std::to_string(domain) + " (" +
                             domains_[domain].name + "), epoch " + std::to_string(epoch) +
                             ", step " + std::to_string(step));
    }
    const auto [x, y] = batches.get(step);
    const at::Tensor logits = model_->forward(x);
    const at::Tensor loss = at::cross_entropy_loss(logits, y);
    at::Tensor total = loss;
    const at::Tensor aux = model_->aux_loss();
    if (balance && aux.defined()) {
      const at::Tensor weighted = aux * config_.router_balance_strength;
      total = total + weighted;
      aux_sum += weighted.item<double>();
    }
    optimizer_.zero_grad();
    total.backward();
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value) || !std::isfinite(aux_sum)) {
      throw TrainingError("non-finite loss (" + std::to_string(loss_value) + ") at domain " +
                          std::to_string(domain) + " (" + domains_[domain].name + "), epoch " +
                          std::to_string(epoch) + ", step " + std::to_string(step) +
                          "; try a lower optimizer.lr");
    }
    optimizer_.step();
    loss_sum += loss_value * static_cast<double>(y.size(0));
    correct += logits.argmax(1).eq(y).sum();
    info.step = step;
    info.loss = loss_value;
    info.seconds = seconds_since(start);
    for (auto* observer : observers_) observer->on_step(info);
  }
  const auto n = static_cast<double>(batches.num_samples());
  out.lr = current_lr(optimizer_);
  out.train_loss = loss_sum / n;
  out.aux_loss = info.num_steps > 0 ? aux_sum / static_cast<double>(info.num_steps) : 0.0;
  out.train_acc = static_cast<double>(correct.item<int64_t>()) / n;
  out.expert_usage = usage_by_layer(model_->expert_usage(/*training=*/true));
  out.seconds = seconds_since(start);
  out.samples_per_s = out.seconds > 0 ? n / out.seconds : 0.0;
}

void Trainer::evaluate_all(io::EpochRecord& out) {
  const auto start = Clock::now();
  for (std::size_t j = 0; j < domains_.size(); ++j) {
    const Evaluation ev = evaluate(*model_, test_batches_[j], num_classes_);
    io::EvalRecord rec;
    rec.domain = domains_[j].name;
    rec.acc = ev.acc;
    rec.loss = ev.loss;
    rec.confusion = square(ev.confusion, num_classes_);
    rec.expert_usage = usage_by_layer(ev.usage);
    out.eval.push_back(std::move(rec));
  }
  out.eval_seconds = seconds_since(start);
}

}  // namespace moedil::train
