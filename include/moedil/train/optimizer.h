#pragma once
// Optimizer registry: config `optimizer.name` -> LibTorch optimizer.
#include <functional>
#include <memory>
#include <vector>

#include <torch/optim/optimizer.h>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"

namespace moedil::train {

using OptimizerBuilder = std::function<std::unique_ptr<torch::optim::Optimizer>(
    std::vector<at::Tensor> parameters, const config::OptimizerConfig&)>;

/// sgd (momentum, weight_decay), adam (L2 weight_decay), adamw (decoupled weight_decay).
const Registry<OptimizerBuilder>& optimizer_registry();

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<at::Tensor> parameters,
                                                        const config::OptimizerConfig& c);

/// Learning rate of the first parameter group.
double current_lr(const torch::optim::Optimizer& optimizer);

}  // namespace moedil::train
