#include "moedil/train/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

namespace moedil::train {

const Registry<OptimizerBuilder>& optimizer_registry() {
  static const Registry<OptimizerBuilder> registry = [] {
    Registry<OptimizerBuilder> r("optimizer");
    r.add("sgd", "stochastic gradient descent (lr, momentum, weight_decay)",
          [](std::vector<at::Tensor> params, const config::OptimizerConfig& c) {
            return std::make_unique<torch::optim::SGD>(
                std::move(params), torch::optim::SGDOptions(c.lr)
                                       .momentum(c.momentum)
                                       .weight_decay(c.weight_decay));
          });
    r.add("adam", "Adam (lr, weight_decay as L2 penalty)",
          [](std::vector<at::Tensor> params, const config::OptimizerConfig& c) {
            return std::make_unique<torch::optim::Adam>(
                std::move(params), torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
          });
    r.add("adamw", "AdamW (lr, decoupled weight_decay)",
          [](std::vector<at::Tensor> params, const config::OptimizerConfig& c) {
            return std::make_unique<torch::optim::AdamW>(
                std::move(params), torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay));
          });
    return r;
  }();
  return registry;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<at::Tensor> parameters,
                                                        const config::OptimizerConfig& c) {
  return optimizer_registry().get(c.name).build(std::move(parameters), c);
}

double current_lr(const torch::optim::Optimizer& optimizer) {
  return optimizer.param_groups().front().options().get_lr();
}

}  // namespace moedil::train
