#pragma once
// vit_moe_imagelevel: the predecessor's image-level MoE ViT ("variant 1" of its thesis). A
// pre-norm ViT with a CLS token (the head reads it) whose chosen blocks have a SlowCentroidMoe
// MLP: each image goes, whole, to one expert chosen by the nearest slow EMA centroid of its
// patch-token mean (gate 1, no learnable routing, no auxiliary loss: the predecessor's
// auxiliary terms carried no gradient, README "Coming from the predecessor").
// moedil's own image-level model with a learnable projection and gradient-carrying centroid
// losses is vit_moe_centroid (vit_imagelevel.h).
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/attention.h"
#include "moedil/model/classifier.h"
#include "moedil/model/moe/slow_centroid_moe.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/vit_backbone.h"

namespace moedil::model {

/// Pre-norm block with the slow-centroid MoE MLP: h = x + attn(ln1(x)); h + moe(ln2(h)).
class SlowCentroidBlockImpl : public torch::nn::Module {
 public:
  SlowCentroidBlockImpl(int64_t num_heads, const moe::SlowCentroidMoeOptions& moe_options);
  /// [B, 1 + N, D] -> [B, 1 + N, D]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr};
  SelfAttention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  moe::SlowCentroidMoe moe{nullptr};
};
TORCH_MODULE(SlowCentroidBlock);

struct ViTSlowCentroidOptions {
  explicit ViTSlowCentroidOptions(ViTBackboneOptions backbone)
      : backbone_(std::move(backbone)) {}
  TORCH_ARG(ViTBackboneOptions, backbone);
  /// Blocks whose MLP is a slow-centroid MoE layer.
  TORCH_ARG(std::vector<int64_t>, moe_layers) = std::vector<int64_t>{1, 3};
  TORCH_ARG(int64_t, num_experts) = 4;
  TORCH_ARG(double, alpha_fast) = 0.8;   ///< keep rate of the fast centroids' EMA
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids' EMA
};

class ViTSlowCentroidImpl : public ClassifierImpl {
 public:
  /// Throws c10::Error for a patch size not dividing the image or layer indices out of range.
  explicit ViTSlowCentroidImpl(const ViTSlowCentroidOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;

  ViTSlowCentroidOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};  ///< TransformerBlock or SlowCentroidBlock
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ViTSlowCentroid);

}  // namespace moedil::model
