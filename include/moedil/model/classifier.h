#pragma once
// What the trainer needs from every model: logits, auxiliary (balance) losses, expert usage.
// A model registers its MoE layers (register_moe_layer) and gets aux_loss, expert_usage,
// reset_expert_usage, moe_layer_names, force_expert and expert merging for them.
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "moedil/model/moe/mixture.h"

namespace moedil::model {

/// Rows routed to each expert of one MoE layer.
struct ExpertUsage {
  std::string layer;            ///< e.g. "blocks.1.moe"
  std::vector<int64_t> counts;  ///< one per expert
  double dropped_fraction = 0.0;  ///< rows that went to no routed expert (capacity), of all rows
  double routing_entropy = 0.0;   ///< mean entropy (nats) of the router's distribution per row
};

/// One MoE layer of a model, as typed handles: its name (the module path, "blocks.1.moe"), its
/// routing core, its router, its routed experts (expert e is experts[e]) and its shared
/// experts. The trainer reaches routers and experts only through these (router learning-rate
/// multiplier, router freezing, expert learning-rate multiplier, expert merging).
struct MoeLayerRef {
  std::string name;
  moe::Mixture* mixture = nullptr;
  /// The module holding the router's parameters; null when routing has none (switch_vit routes
  /// by prototype buffers).
  std::shared_ptr<torch::nn::Module> router;
  torch::nn::ModuleList experts{nullptr};
  /// Always-on shared experts; null when the layer has none.
  torch::nn::ModuleList shared_experts{nullptr};
};

namespace detail {
template <class T, class = void>
struct HasSharedExperts : std::false_type {};
template <class T>
struct HasSharedExperts<T, std::void_t<decltype(std::declval<T&>().shared_experts)>>
    : std::true_type {};
}  // namespace detail

class ClassifierImpl : public torch::nn::Module {
 public:
  /// images float [B, C, H, W] (normalised) -> logits [B, num_classes]
  virtual at::Tensor forward(const at::Tensor& images) = 0;
  /// Sum of the auxiliary losses of the last training forward (undefined when the model has
  /// none): by default the registered layers' balance losses. The trainer weights it.
  virtual at::Tensor aux_loss() const;
  /// Per-layer expert usage since the last reset, counted in training or in evaluation.
  virtual std::vector<ExpertUsage> expert_usage(bool training) const;
  virtual void reset_expert_usage(bool training);
  /// Names of the MoE layers, as in expert_usage() ("blocks.1.moe"); empty for dense models.
  virtual std::vector<std::string> moe_layer_names() const;
  /// Routes every row of `layer` to expert `expert` alone (-1 restores routing). Throws
  /// UsageError for an unknown layer (listing the names) or expert.
  virtual void force_expert(const std::string& layer, int64_t expert);
  /// Called by the trainer before every training epoch (epoch counted within the domain, from
  /// 0), so a model can anneal its own hyper-parameters (e.g. a routing temperature).
  virtual void on_epoch_start(int64_t /*domain*/, int64_t /*epoch*/) {}
  /// True when an evaluation forward (eval mode, no autograd) changes nothing in the model but
  /// its mixtures' evaluation counters (which a moe::UsageCapture holds back), so that several
  /// threads may evaluate batches through it at once. False unless a model says so: a model
  /// that keeps anything from a forward (routing losses, EMA state) must not.
  virtual bool parallel_eval_safe() const { return false; }
  /// The registered MoE layers, in forward order.
  const std::vector<MoeLayerRef>& moe_layers() const { return moe_layers_; }
  /// MoE layers without routing (vit_moe's shared-experts-only layers: the plain sum of their
  /// shared experts), in forward order; no mixture or router. Their experts take the expert
  /// LR groups; nothing else (usage, balance loss, forcing) applies to them.
  const std::vector<MoeLayerRef>& unrouted_layers() const { return unrouted_layers_; }

 protected:
  /// Registers an MoE layer (call in the constructor, in forward order). The mixture must live
  /// as long as the model (a member of a registered submodule).
  void register_moe_layer(MoeLayerRef layer);
  /// Registers an MoE module that has the members `mixture`, `router` and `experts` (and
  /// `shared_experts` if it has shared experts): every MoE module of model/moe/.
  template <class Layer>
  void register_moe_layer(std::string name, Layer& layer) {
    MoeLayerRef ref{std::move(name), &layer.mixture, layer.router.ptr(), layer.experts, nullptr};
    if constexpr (detail::HasSharedExperts<Layer>::value) ref.shared_experts = layer.shared_experts;
    register_moe_layer(std::move(ref));
  }
  /// Registers an MoE layer without routing (see unrouted_layers()).
  template <class Layer>
  void register_unrouted_layer(std::string name, Layer& layer) {
    unrouted_layers_.push_back({std::move(name), nullptr, nullptr, layer.experts,
                                layer.shared_experts});
  }

 private:
  std::vector<MoeLayerRef> moe_layers_;
  std::vector<MoeLayerRef> unrouted_layers_;
};

using Classifier = std::shared_ptr<ClassifierImpl>;

/// Image and label shapes a model is built for (they come from the dataset).
struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
};

}  // namespace moedil::model
