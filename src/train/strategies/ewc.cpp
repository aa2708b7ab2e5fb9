#include "moedil/train/strategies/ewc.h"

#include <fmt/format.h>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/common/error.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

at::Tensor ewc_penalty(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& fisher,
                       const std::vector<at::Tensor>& anchor, double lambda) {
  at::Tensor sum;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const at::Tensor term = (fisher[i] * (params[i] - anchor[i]).pow(2)).sum();
    sum = sum.defined() ? sum + term : term;
  }
  return sum * (lambda / 2.0);
}

at::Tensor EwcPlugin::loss_term(TrainingState& state, const TrainBatch&, const at::Tensor&) {
  if (fisher_.empty() || lambda_ == 0.0) return {};
  return ewc_penalty(state.model.parameters(), fisher_, anchor_, lambda_);
}

void EwcPlugin::on_domain_end(TrainingState& state) {
  model::ClassifierImpl& model = state.model;
  const std::vector<at::Tensor> params = model.parameters();
  std::vector<at::Tensor> domain_fisher;
  for (const auto& p : params) domain_fisher.push_back(at::zeros_like(p));
  const data::Batches& batches = state.data.train_batches(state.pos.domain);
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = batches.num_batches();
  for (int64_t b = 0; b < n; ++b) {
    const auto [x, y] = batches.get(b);
    for (auto& p : params) p.mutable_grad() = at::Tensor();
    const at::Tensor loss = at::cross_entropy_loss(model.forward(x).to(at::kFloat), y);
    // Parameters that take no gradient now (frozen routers) get no Fisher: nothing anchors them.
    std::vector<at::Tensor> inputs;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i].requires_grad()) {
        inputs.push_back(params[i]);
        which.push_back(i);
      }
    }
    const std::vector<at::Tensor> grads =
        torch::autograd::grad({loss}, inputs, {}, false, false, /*allow_unused=*/true);
    for (std::size_t k = 0; k < which.size(); ++k) {
      if (grads[k].defined()) domain_fisher[which[k]].add_(grads[k].detach().pow(2));
    }
  }
  if (was_training) model.train();
  torch::NoGradGuard no_grad;
  for (auto& f : domain_fisher) f.div_(static_cast<double>(std::max<int64_t>(n, 1)));
  if (fisher_.empty()) {
    fisher_ = std::move(domain_fisher);
  } else {
    for (std::size_t i = 0; i < fisher_.size(); ++i) fisher_[i] = fisher_[i] * gamma_ + domain_fisher[i];
  }
  anchor_.clear();
  for (const auto& p : params) anchor_.push_back(p.detach().clone());
}

nlohmann::json EwcPlugin::save_state(PluginTensors& tensors) const {
  for (std::size_t i = 0; i < fisher_.size(); ++i) {
    tensors["fisher_" + std::to_string(i)] = fisher_[i];
    tensors["anchor_" + std::to_string(i)] = anchor_[i];
  }
  return {{"parameters", fisher_.size()}};
}

void EwcPlugin::load_state(const nlohmann::json& state, const PluginTensors& tensors) {
  const auto n = state.at("parameters").get<std::size_t>();
  std::vector<at::Tensor> fisher;
  std::vector<at::Tensor> anchor;
  for (std::size_t i = 0; i < n; ++i) {
    const auto f = tensors.find("fisher_" + std::to_string(i));
    const auto a = tensors.find("anchor_" + std::to_string(i));
    if (f == tensors.end() || a == tensors.end()) {
      throw DataError("ewc: the checkpoint lacks the Fisher or anchor of parameter " +
                      std::to_string(i));
    }
    fisher.push_back(f->second);
    anchor.push_back(a->second);
  }
  fisher_ = std::move(fisher);
  anchor_ = std::move(anchor);
}

std::string EwcPlugin::describe() const {
  return fmt::format("online EWC: lambda {} gamma {}", lambda_, gamma_);
}

}  // namespace moedil::train
