#pragma once
// What the trainer needs from every model: logits, auxiliary (balance) losses, expert usage.
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

namespace moedil::model {

/// Rows routed to each expert of one MoE layer.
struct ExpertUsage {
  std::string layer;            ///< e.g. "blocks.1.moe"
  std::vector<int64_t> counts;  ///< one per expert
  double dropped_fraction = 0.0;  ///< rows that went to no routed expert (capacity), of all rows
  double routing_entropy = 0.0;   ///< mean entropy (nats) of the router's distribution per row
};

class ClassifierImpl : public torch::nn::Module {
 public:
  /// images float [B, C, H, W] (normalised) -> logits [B, num_classes]
  virtual at::Tensor forward(const at::Tensor& images) = 0;
  /// Sum of the auxiliary losses of the last training forward (undefined when the model has
  /// none). The trainer weights it.
  virtual at::Tensor aux_loss() const { return {}; }
  /// Per-layer expert usage since the last reset, counted in training or in evaluation.
  virtual std::vector<ExpertUsage> expert_usage(bool /*training*/) const { return {}; }
  virtual void reset_expert_usage(bool /*training*/) {}
  /// Names of the MoE layers, as in expert_usage() ("blocks.1.moe"); empty for dense models.
  virtual std::vector<std::string> moe_layer_names() const { return {}; }
  /// Routes every row of `layer` to expert `expert` alone (-1 restores routing). Throws
  /// UsageError for an unknown layer (listing the names) or expert.
  virtual void force_expert(const std::string& layer, int64_t expert);
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
