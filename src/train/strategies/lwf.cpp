#include "moedil/train/strategies/lwf.h"

#include <fmt/format.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/common/error.h"

namespace moedil::train {

at::Tensor distillation_loss(const at::Tensor& student, const at::Tensor& teacher, double alpha,
                             double temperature) {
  const at::Tensor log_p = at::log_softmax(student.to(at::kFloat) / temperature, 1);
  const at::Tensor q = at::softmax(teacher.to(at::kFloat) / temperature, 1);
  // KL(q || p) per row = sum q (log q - log p); xlogy keeps 0 log 0 = 0.
  const at::Tensor kl = (at::xlogy(q, q) - q * log_p).sum(1);
  return kl.mean() * alpha;
}

at::Tensor LwfPlugin::loss_term(TrainingState&, const TrainBatch& batch, const at::Tensor& logits) {
  if (!teacher_ || alpha_ == 0.0) return {};
  at::Tensor old;
  {
    torch::NoGradGuard no_grad;
    old = teacher_->forward(batch.images);
  }
  return distillation_loss(logits, old, alpha_, temperature_);
}

void LwfPlugin::keep(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& buffers) {
  model::Classifier copy = make_model_();
  torch::NoGradGuard no_grad;
  const std::vector<at::Tensor> to_params = copy->parameters();
  const std::vector<at::Tensor> to_buffers = copy->buffers();
  if (to_params.size() != params.size() || to_buffers.size() != buffers.size()) {
    throw DataError("lwf: the kept model has " + std::to_string(params.size()) +
                    " parameters and " + std::to_string(buffers.size()) +
                    " buffers; this model has " + std::to_string(to_params.size()) + " and " +
                    std::to_string(to_buffers.size()));
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    to_params[i].copy_(params[i]);
    to_params[i].set_requires_grad(false);
  }
  for (std::size_t i = 0; i < buffers.size(); ++i) to_buffers[i].copy_(buffers[i]);
  copy->eval();
  teacher_ = copy;
}

void LwfPlugin::on_domain_end(TrainingState& state) {
  keep(state.model.parameters(), state.model.buffers());
}

nlohmann::json LwfPlugin::save_state(PluginTensors& tensors) const {
  if (!teacher_) return {{"teacher", false}};
  const std::vector<at::Tensor> params = teacher_->parameters();
  const std::vector<at::Tensor> buffers = teacher_->buffers();
  for (std::size_t i = 0; i < params.size(); ++i) tensors["p_" + std::to_string(i)] = params[i];
  for (std::size_t i = 0; i < buffers.size(); ++i) tensors["b_" + std::to_string(i)] = buffers[i];
  return {{"teacher", true}, {"parameters", params.size()}, {"buffers", buffers.size()}};
}

void LwfPlugin::load_state(const nlohmann::json& state, const PluginTensors& tensors) {
  if (!state.at("teacher").get<bool>()) {
    teacher_ = nullptr;
    return;
  }
  const auto read = [&](const std::string& prefix, std::size_t n) {
    std::vector<at::Tensor> out;
    for (std::size_t i = 0; i < n; ++i) {
      const auto it = tensors.find(prefix + std::to_string(i));
      if (it == tensors.end()) {
        throw DataError("lwf: the checkpoint lacks tensor " + prefix + std::to_string(i) +
                        " of the previous domain's model");
      }
      out.push_back(it->second);
    }
    return out;
  };
  keep(read("p_", state.at("parameters").get<std::size_t>()),
       read("b_", state.at("buffers").get<std::size_t>()));
}

std::string LwfPlugin::describe() const {
  return fmt::format("LwF: alpha {} temperature {}", alpha_, temperature_);
}

}  // namespace moedil::train
