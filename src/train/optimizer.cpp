#include "moedil/train/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "moedil/model/weights_file.h"
#include "moedil/train/fused_adamw.h"

namespace moedil::train {
namespace {

/// LibTorch param groups with per-group options cloned from `base` and their own lr.
template <class Options>
std::vector<torch::optim::OptimizerParamGroup> groups_with(const std::vector<ParamGroup>& groups,
                                                           const Options& base, double lr) {
  std::vector<torch::optim::OptimizerParamGroup> out;
  for (const auto& g : groups) {
    auto options = std::make_unique<Options>(base);
    options->lr(lr * g.lr_multiplier);
    out.emplace_back(g.params, std::move(options));
  }
  return out;
}

}  // namespace

std::vector<ParamGroup> make_param_groups(const model::ClassifierImpl& model,
                                          double router_lr_multiplier,
                                          double expert_lr_multiplier,
                                          const std::vector<double>& routed_factors,
                                          const std::vector<double>& shared_factors,
                                          double backbone_lr_multiplier) {
  const auto factor = [](const std::vector<double>& factors, std::size_t e) {
    return factors.empty() ? 1.0 : factors[std::min(e, factors.size() - 1)];
  };
  std::unordered_set<const void*> router_params;
  std::unordered_map<const void*, double> expert_factor;  ///< expert parameter -> its factor
  for (const auto* layers : {&model.moe_layers(), &model.unrouted_layers()}) {
    for (const model::MoeLayerRef& layer : *layers) {
      if (layer.router) {
        for (const auto& p : layer.router->parameters()) {
          router_params.insert(p.unsafeGetTensorImpl());
        }
      }
      for (const auto* list : {&layer.experts, &layer.shared_experts}) {
        if (!*list) continue;
        const std::vector<double>& factors = list == &layer.experts ? routed_factors
                                                                    : shared_factors;
        for (std::size_t e = 0; e < (*list)->size(); ++e) {
          for (const auto& p : (*list)->ptr(e)->parameters()) {
            expert_factor[p.unsafeGetTensorImpl()] = factor(factors, e);
          }
        }
      }
    }
  }
  ParamGroup other{"other", {}, 1.0};
  ParamGroup backbone{"backbone", {}, backbone_lr_multiplier};
  ParamGroup router{"router", {}, router_lr_multiplier};
  ParamGroup experts{"experts", {}, expert_lr_multiplier};
  std::vector<ParamGroup> scaled;  ///< experts whose factor is not 1, one group per factor
  // In the model's parameter order, so the groups (and the optimizer state) do not depend on
  // the order the layers were registered in.
  for (const auto& item : model.named_parameters()) {
    const at::Tensor& p = item.value();
    const auto found = expert_factor.find(p.unsafeGetTensorImpl());
    if (router_params.count(p.unsafeGetTensorImpl()) != 0) {
      router.params.push_back(p);
    } else if (found == expert_factor.end()) {
      // A backbone of its own only when scaled: the groups (and checkpoints) stay as they were.
      const bool scaled_backbone =
          backbone_lr_multiplier != 1.0 && model::backbone_tensor(item.key());
      (scaled_backbone ? backbone : other).params.push_back(p);
    } else if (found->second == 1.0) {
      experts.params.push_back(p);
    } else {
      // Shortest round-trip form: distinct factors never share a name.
      const std::string name = fmt::format("experts x{}", found->second);
      auto group = std::find_if(scaled.begin(), scaled.end(),
                                [&](const ParamGroup& g) { return g.name == name; });
      if (group == scaled.end()) {
        scaled.push_back({name, {}, expert_lr_multiplier * found->second});
        group = scaled.end() - 1;
      }
      group->params.push_back(p);
    }
  }
  std::vector<ParamGroup> out;
  for (auto* g : {&other, &backbone, &router, &experts}) {
    if (!g->params.empty()) out.push_back(std::move(*g));
  }
  for (ParamGroup& g : scaled) out.push_back(std::move(g));
  return out;
}

const Registry<OptimizerBuilder>& optimizer_registry() {
  static const Registry<OptimizerBuilder> registry = [] {
    Registry<OptimizerBuilder> r("optimizer");
    r.add("sgd", "stochastic gradient descent (lr, momentum, nesterov, weight_decay)",
          [](const std::vector<ParamGroup>& groups, const config::OptimizerConfig& c) {
            const auto base = torch::optim::SGDOptions(c.lr)
                                  .momentum(c.momentum)
                                  .nesterov(c.nesterov)
                                  .weight_decay(c.weight_decay);
            return std::make_unique<torch::optim::SGD>(groups_with(groups, base, c.lr), base);
          });
    r.add("adam", "Adam (lr, weight_decay as L2 penalty)",
          [](const std::vector<ParamGroup>& groups, const config::OptimizerConfig& c) {
            const auto base = torch::optim::AdamOptions(c.lr).weight_decay(c.weight_decay);
            return std::make_unique<torch::optim::Adam>(groups_with(groups, base, c.lr), base);
          });
    r.add("adamw", "AdamW (lr, decoupled weight_decay)",
          [](const std::vector<ParamGroup>& groups, const config::OptimizerConfig& c) {
            const auto base = torch::optim::AdamWOptions(c.lr).weight_decay(c.weight_decay);
            return std::make_unique<FusedAdamW>(groups_with(groups, base, c.lr), base);
          });
    return r;
  }();
  return registry;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParamGroup>& groups,
                                                        const config::OptimizerConfig& c) {
  return optimizer_registry().get(c.name).build(groups, c);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<at::Tensor> parameters,
                                                        const config::OptimizerConfig& c) {
  return make_optimizer(std::vector<ParamGroup>{{"all", std::move(parameters), 1.0}}, c);
}

double current_lr(const torch::optim::Optimizer& optimizer) {
  return optimizer.param_groups().front().options().get_lr();
}

void set_lr(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& multipliers) {
  auto& groups = optimizer.param_groups();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    groups[i].options().set_lr(lr * (i < multipliers.size() ? multipliers[i] : 1.0));
  }
}

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) p.mutable_grad() = at::Tensor();
  }
}

namespace {

/// LibTorch 1.13 keys the optimizer state by the TensorImpl address printed as a string; later
/// versions by the address itself. A template, so only the matching branch is compiled.
template <class StateMap>
int64_t erase_state(StateMap& state, void* impl) {
  using Key = std::decay_t<decltype(state.begin()->first)>;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << impl;
    return static_cast<int64_t>(state.erase(key.str()));
  } else {
    return static_cast<int64_t>(state.erase(impl));
  }
}

}  // namespace

int64_t reset_optimizer_state(torch::optim::Optimizer& optimizer,
                              const std::vector<at::Tensor>& params) {
  int64_t dropped = 0;
  for (const auto& p : params) dropped += erase_state(optimizer.state(), p.unsafeGetTensorImpl());
  return dropped;
}

}  // namespace moedil::train
