#pragma once
// vit_prototype_heads: a whole ViT (every block shared) whose CLS feature after the final norm,
// scaled to unit length, f = unit(norm(x)[CLS]), goes to one of E linear heads (the experts)
// chosen by the nearest (cosine) of E unit prototypes (buffers [E, D], random unit vectors from
// the model seed). The predecessor's pretrained_vit_moe_head (PretrainedViTPrototypeMoE):
//   scores = f . unit(P)^T   [B, E]         probs = softmax(scores / router_temperature)
//   "selected" (its default): logits = head_e(f) for e = argmax scores (gate 1; the temperature
//       changes nothing);
//   "weighted" (its use_global_classification): logits = sum_e probs_e head_e(f), through
//       which the task loss also trains the backbone's routing feature.
// In a training forward, each chosen prototype moves toward the mean feature of the images it
// won and is scaled back to unit length (no gradient): p <- unit(ema_alpha p + (1 - ema_alpha)
// mean f), ema_alpha the keep rate; 1 keeps the prototypes where they started (the
// predecessor's router_lr_multiplier 0). Evaluation never moves them (the predecessor's did),
// and neither does training while the routing is frozen (routing_frozen: the trainer's router
// freezing, router_freeze_after_epochs, sets it, as the predecessor's froze its prototypes).
// The routing core (moe::Mixture) dispatches and counts usage; there is no balance loss.
#include <string>
#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/classifier.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/vit_backbone.h"
#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/router.h"

namespace moedil::model {

struct ViTPrototypeHeadsOptions {
  explicit ViTPrototypeHeadsOptions(ViTBackboneOptions backbone)
      : backbone_(std::move(backbone)) {}
  TORCH_ARG(ViTBackboneOptions, backbone);
  TORCH_ARG(int64_t, num_experts) = 4;
  /// Keep rate of the prototypes' EMA, in [0, 1].
  TORCH_ARG(double, ema_alpha) = 0.99;
  /// Softmax temperature of the cosine scores (> 0).
  TORCH_ARG(double, router_temperature) = 0.1;
  /// "selected" or "weighted" (see the file comment).
  TORCH_ARG(std::string, head_mixing) = "selected";
};

class ViTPrototypeHeadsImpl : public ClassifierImpl {
 public:
  /// Throws c10::Error for a patch size not dividing the image, num_experts < 1, ema_alpha
  /// outside [0, 1], a temperature <= 0, an unknown head_mixing or a backbone without CLS token.
  explicit ViTPrototypeHeadsImpl(const ViTPrototypeHeadsOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// No auxiliary loss (the predecessor's attraction and repulsion terms carried no gradient).
  at::Tensor aux_loss() const override { return {}; }

  /// images [B, C, H, W] -> f, the unit CLS feature after the final norm [B, D]
  at::Tensor feature(const at::Tensor& images);
  /// f [B, D] -> Routing: logits the cosines to the prototypes [B, E], probs their softmax at
  /// the temperature, expert_idx/gates the argmax with gate 1 ("selected", [B, 1]) or every
  /// expert by probability with the probabilities as gates ("weighted", [B, E]). The gates
  /// carry f's gradient in "weighted" mode only.
  moe::Routing route(const at::Tensor& f) const;

  ViTPrototypeHeadsOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::ModuleList heads{nullptr};  ///< E Linear(D, classes): the experts
  at::Tensor prototypes;                 ///< buffer [E, D], unit rows
  moe::Mixture mixture;
  /// While true, training forwards leave the prototypes where they are (set with the routers'
  /// freezing, train::set_routers_frozen).
  bool routing_frozen = false;
};
TORCH_MODULE(ViTPrototypeHeads);

}  // namespace moedil::model
