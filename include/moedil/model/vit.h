#pragma once
// Vision Transformer classifier (patch embedding, CLS token, learned positions, pre-norm blocks).
// With moe_layers it is vit_moe: those blocks' MLPs are MoE layers; with hetero_experts too it
// is hetero_moe: those MoE layers have experts of different architectures.
#include <utility>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "moedil/model/classifier.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/moe/moe_layer.h"
#include "moedil/model/transformer_block.h"
#include "moedil/model/vit_backbone.h"

namespace moedil::model {

struct ViTOptions {
  explicit ViTOptions(ViTBackboneOptions backbone) : backbone_(std::move(backbone)) {}
  TORCH_ARG(ViTBackboneOptions, backbone);
  /// Blocks whose MLP is an MoE layer (empty: dense ViT).
  TORCH_ARG(std::vector<int64_t>, moe_layers) = {};
  /// Options of every MoE layer (dim and hidden are set from the ViT's).
  TORCH_ARG(moe::MoeLayerOptions, moe) = moe::MoeLayerOptions(0, 0, 4);
  /// hetero_moe: when not empty, the MoE blocks' layers are heterogeneous, one expert per kind
  /// listed ("mlp", "conv", "attention"), routed per image with moe's routing options.
  TORCH_ARG(std::vector<std::string>, hetero_experts) = {};
  /// The head reads the CLS token alone, so the last block computes its query, MLP or MoE layer
  /// for that token only where that changes nothing else (TransformerBlockImpl::
  /// first_token_suffices): ~1/5 of the forward and backward less at depth 4. The logits agree
  /// with every token's computed to float rounding. false: every token (the reference).
  TORCH_ARG(bool, last_block_first_token_only) = true;
};

class ViTImpl : public ClassifierImpl {
 public:
  explicit ViTImpl(const ViTOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// Whether forward computes the last block for the CLS token alone (see ViTOptions::
  /// last_block_first_token_only); depends on train()/eval() where dropout would be drawn.
  bool last_block_on_first_token() const;
  /// Its forward keeps nothing but the mixtures' counters (linear routers only).
  bool parallel_eval_safe() const override { return true; }

  ViTOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ViT);

}  // namespace moedil::model
