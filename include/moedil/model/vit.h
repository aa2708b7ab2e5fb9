#pragma once
// Vision Transformer classifier (patch embedding, CLS token, learned positions, pre-norm blocks).
// With moe_layers it is vit_moe: those blocks' MLPs are MoE layers; with hetero_experts too it
// is hetero_moe: those MoE layers have experts of different architectures.
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "moedil/model/classifier.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/moe/moe_layer.h"
#include "moedil/model/transformer_block.h"

namespace moedil::model {

struct ViTOptions {
  explicit ViTOptions(InputShape input) : input_(input) {}
  TORCH_ARG(InputShape, input);
  TORCH_ARG(int64_t, patch_size) = 7;
  TORCH_ARG(int64_t, embed_dim) = 64;
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(double, mlp_ratio) = 2.0;
  TORCH_ARG(double, dropout) = 0.0;
  /// Blocks whose MLP is an MoE layer (empty: dense ViT).
  TORCH_ARG(std::vector<int64_t>, moe_layers) = {};
  /// Options of every MoE layer (dim and hidden are set from the ViT's).
  TORCH_ARG(moe::MoeLayerOptions, moe) = moe::MoeLayerOptions(0, 0, 4);
  /// hetero_moe: when not empty, the MoE blocks' layers are heterogeneous, one expert per kind
  /// listed ("mlp", "conv", "attention"), routed per image with moe's routing options.
  TORCH_ARG(std::vector<std::string>, hetero_experts) = {};
};

class ViTImpl : public ClassifierImpl {
 public:
  explicit ViTImpl(const ViTOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;

  ViTOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ViT);

}  // namespace moedil::model
