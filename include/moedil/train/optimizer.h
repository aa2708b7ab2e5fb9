#pragma once
// Optimizer registry: config `optimizer.name` -> LibTorch optimizer over named parameter groups
// (routers and MoE experts get their own groups so their learning rates can be scaled).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"
#include "moedil/model/classifier.h"

namespace moedil::train {

/// Parameters trained at lr * lr_multiplier.
struct ParamGroup {
  std::string name;  ///< "other", "backbone", "router", "experts" or "experts x<factor>"
  std::vector<at::Tensor> params;
  double lr_multiplier = 1.0;
};

/// Splits a model's parameters into "router" (the routers of its MoE layers), "experts" (their
/// routed and shared experts, and those of its unrouted layers) and "other", each in the
/// model's parameter order, through the typed MoE layer handles (model.moe_layers(),
/// model.unrouted_layers()); empty groups are left out. Per-expert factors (the predecessor's
/// moe_unshared_lr_multipliers / moe_shared_lr_multipliers): routed / shared expert e of every
/// layer trains at expert_lr_multiplier * factors[min(e, size - 1)] (empty: 1); the experts
/// whose factor is not 1 form one group per factor, "experts x<factor>", after "experts", in
/// the order their factors first appear. backbone_lr_multiplier not 1: the backbone's
/// parameters of "other" (model::backbone_tensor: not a classifier head) form "backbone" at that
/// multiplier, after "other" (which keeps the heads).
std::vector<ParamGroup> make_param_groups(const model::ClassifierImpl& model,
                                          double router_lr_multiplier,
                                          double expert_lr_multiplier,
                                          const std::vector<double>& routed_factors = {},
                                          const std::vector<double>& shared_factors = {},
                                          double backbone_lr_multiplier = 1.0);

using OptimizerBuilder = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const std::vector<ParamGroup>& groups, const config::OptimizerConfig&)>;

/// sgd (momentum, nesterov, weight_decay), adam (L2 weight_decay), adamw (decoupled).
const Registry<OptimizerBuilder>& optimizer_registry();

/// One LibTorch param group per ParamGroup, in order, each with lr = c.lr * multiplier.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const config::OptimizerConfig& c);
/// A single group of all `parameters` at c.lr.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<at::Tensor> parameters,
                                                        const config::OptimizerConfig& c);

/// Learning rate of the first parameter group.
double current_lr(const torch::optim::Optimizer& optimizer);
/// Sets group i's lr to lr * multipliers[i].
void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& multipliers);

/// Sets the gradient of every parameter of `optimizer` to undefined ("none"), the same on
/// LibTorch 1.13 (whose zero_grad() zero-fills) and 2.x (whose zero_grad() defaults to none).
/// moedil's one semantics for a parameter that gets no gradient in a step (an expert that
/// received no rows, a frozen router): no optimizer steps it in that step (no momentum, no
/// Adam moment update, no weight decay). A run resumed from a checkpoint (where every gradient
/// starts undefined) therefore trains exactly as the uninterrupted run.
void clear_gradients(torch::optim::Optimizer& optimizer);

/// Forgets the optimizer's per-parameter state (momentum, Adam moments and step count) of
/// `params`, as if they had never been stepped. Returns how many states were dropped.
int64_t reset_optimizer_state(torch::optim::Optimizer& optimizer,
                              const std::vector<at::Tensor>& params);

}  // namespace moedil::train
