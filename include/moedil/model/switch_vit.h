#pragma once
// switch_moe_vit: a ViT whose lower blocks are shared and whose upper part is E whole experts.
// Shared: patch embedding, CLS token, positions and depth - expert_depth blocks (optionally
// frozen: no gradient). Expert e: its own expert_depth blocks, final LayerNorm and head,
// separately initialised. Each image goes to ONE expert (top-1, gate 1: hard routing, no
// learnable router) chosen by EMA prototypes (buffers [E, 2D]: a mean half and a std half) of
// its routing feature f = [m, s], the mean and the population std of its patch tokens (CLS
// excluded) after the shared blocks. The expert with the largest score wins:
//   score_e = routing_alpha * cos(m, P_mean_e) + (1 - routing_alpha) * cos(s, P_std_e)
// (the predecessor's), or, with routing_alpha < 0, cos(f, P_e) over the whole 2D vector. The
// first training forward sets the prototypes from its batch (init_prototypes); after that, in a
// training forward only the winners' prototypes move toward the features of the images they
// won (no gradient): p <- ema_alpha p + (1 - ema_alpha) f (ema_alpha the keep rate; f the mean
// feature when an expert wins several images). The routing core (moe::Mixture)
// dispatches the images and counts usage; there are no balance losses (nothing to balance).
#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/classifier.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/vit_backbone.h"
#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/router.h"

namespace moedil::model {

struct SwitchExpertOptions {
  SwitchExpertOptions(int64_t dim, int64_t num_heads, int64_t hidden, int64_t depth,
                      int64_t num_classes)
      : dim_(dim), num_heads_(num_heads), hidden_(hidden), depth_(depth),
        num_classes_(num_classes) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, depth);  ///< transformer blocks of the expert
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, layer_norm_eps) = 1e-5;  ///< of its blocks' and its final LayerNorm
};

/// One expert tower: blocks, LayerNorm, head on the CLS token. tokens [n, T, D] -> [n, classes]
class SwitchExpertImpl : public torch::nn::Module {
 public:
  explicit SwitchExpertImpl(const SwitchExpertOptions& options);
  /// tokens [n, T, D] (CLS first) -> logits [n, num_classes]
  at::Tensor forward(const at::Tensor& tokens);

  SwitchExpertOptions options;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(SwitchExpert);

struct SwitchViTOptions {
  explicit SwitchViTOptions(ViTBackboneOptions backbone) : backbone_(std::move(backbone)) {}
  /// Its depth is the shared blocks plus expert_depth.
  TORCH_ARG(ViTBackboneOptions, backbone);
  TORCH_ARG(int64_t, num_experts) = 4;
  TORCH_ARG(int64_t, expert_depth) = 2;  ///< in [1, depth)
  TORCH_ARG(bool, freeze_shared) = false;
  TORCH_ARG(double, ema_alpha) = 0.9;  ///< keep rate of the prototypes' EMA, in [0, 1]
  /// Weight of the mean half in the routing score, in [0, 1]; negative: the cosine of the
  /// concatenated feature to the whole prototype.
  TORCH_ARG(double, routing_alpha) = 0.3;
};

class SwitchViTImpl : public ClassifierImpl {
 public:
  /// Throws c10::Error for a patch size not dividing the image, expert_depth outside
  /// [1, depth), num_experts < 1, ema_alpha outside [0, 1] or routing_alpha > 1.
  explicit SwitchViTImpl(const SwitchViTOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// No auxiliary loss: the routing has nothing to learn. Always undefined.
  at::Tensor aux_loss() const override { return {}; }

  /// images [B, C, H, W] -> tokens after the shared blocks [B, T, D] (CLS first)
  at::Tensor shared_tokens(const at::Tensor& images);
  /// tokens [B, T, D] -> routing feature [B, 2D]: mean and (population) std over the patch
  /// tokens, concatenated
  static at::Tensor routing_feature(const at::Tensor& tokens);
  /// feature [B, 2D] -> Routing (logits = cosine to the prototypes [B, E], probs their softmax
  /// (diagnostics only), expert_idx the nearest prototype [B, 1], gates 1 [B, 1]). Pure.
  moe::Routing route(const at::Tensor& feature) const;

  SwitchViTOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};   ///< the shared blocks
  torch::nn::ModuleList experts{nullptr};  ///< SwitchExpert towers
  at::Tensor prototypes;                   ///< buffer [E, 2D]
  /// buffer, int64 scalar: 0 until the first training forward has set the prototypes from its
  /// batch (see init_prototypes), 1 after. Saved in checkpoints like the prototypes.
  at::Tensor prototypes_ready;
  moe::Mixture mixture;

  /// Sets the prototypes to E of the batch's (unit) features, picked farthest-first: row 0,
  /// then each time the row least similar (largest minimum cosine distance) to those picked.
  /// Rows beyond the batch keep their random start. Deterministic; called by the first
  /// training forward. (A random start alone lets one prototype win every image: the std half
  /// of the feature is positive, so features cluster far from most random directions.)
  void init_prototypes(const at::Tensor& feature);

  /// The predecessor's prototype_init_dataset: prototype d (d < min(domains, E)) becomes the
  /// mean routing feature of the images of domain d (images normalised [N, C, H, W], domain_ids
  /// int64 [N], both on the model's device), computed without dropout in chunks of 64; the
  /// prototypes count as set (the first batch sets none). Other prototypes keep their start.
  /// Returns how many were set.
  int64_t init_prototypes_from_domains(const at::Tensor& images, const at::Tensor& domain_ids);

 private:
  bool prototypes_checked_ = false;  ///< prototypes_ready has been read (once per model)
};
TORCH_MODULE(SwitchViT);

}  // namespace moedil::model
