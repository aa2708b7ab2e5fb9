#include "moedil/model/classifier.h"

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"

namespace moedil::model {

void ClassifierImpl::register_moe_layer(MoeLayerRef layer) {
  moe_layers_.push_back(std::move(layer));
}

at::Tensor ClassifierImpl::aux_loss() const {
  at::Tensor total;
  for (const auto& layer : moe_layers_) {
    const at::Tensor& loss = layer.mixture->balance_loss();
    if (loss.defined()) total = total.defined() ? total + loss : loss;
  }
  return total;
}

std::vector<ExpertUsage> ClassifierImpl::expert_usage(bool training) const {
  std::vector<ExpertUsage> out;
  for (const auto& layer : moe_layers_) {
    out.push_back({layer.name, layer.mixture->usage(training),
                   layer.mixture->dropped_fraction(training),
                   layer.mixture->routing_entropy(training)});
  }
  return out;
}

void ClassifierImpl::reset_expert_usage(bool training) {
  for (auto& layer : moe_layers_) layer.mixture->reset_usage(training);
}

std::vector<std::string> ClassifierImpl::moe_layer_names() const {
  std::vector<std::string> names;
  for (const auto& layer : moe_layers_) names.push_back(layer.name);
  return names;
}

void ClassifierImpl::force_expert(const std::string& layer, int64_t expert) {
  for (auto& ref : moe_layers_) {
    if (ref.name == layer) return ref.mixture->force_expert(expert);
  }
  const std::vector<std::string> names = moe_layer_names();
  if (names.empty()) throw UsageError("this model has no MoE layers to fix an expert in");
  throw UsageError(unknown_name_message("MoE layer", layer, names));
}

}  // namespace moedil::model
