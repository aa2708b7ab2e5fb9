#pragma once
// The options every ViT family shares (vit, vit_moe, hetero_moe, vit_moe_centroid,
// switch_moe_vit): the patch embedding and the transformer blocks. The config keys
// patch_size, embed_dim, depth, num_heads, mlp_ratio and dropout map to it in one place
// (model/registry.cpp); each family's options hold one.
#include <algorithm>
#include <cstdint>

#include <torch/arg.h>

#include "moedil/model/classifier.h"

namespace moedil::model {

struct ViTBackboneOptions {
  explicit ViTBackboneOptions(InputShape input) : input_(input) {}

  /// Hidden width of the blocks' MLPs (and MLP experts): max(1, mlp_ratio * embed_dim).
  int64_t hidden() const {
    return std::max<int64_t>(1,
                             static_cast<int64_t>(mlp_ratio_ * static_cast<double>(embed_dim_)));
  }

  /// Image shape and classes (from the dataset); patch_size must divide height and width.
  TORCH_ARG(InputShape, input);
  TORCH_ARG(int64_t, patch_size) = 7;
  TORCH_ARG(int64_t, embed_dim) = 64;
  /// Transformer blocks (switch_moe_vit: the shared ones plus expert_depth).
  TORCH_ARG(int64_t, depth) = 4;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(double, mlp_ratio) = 2.0;
  TORCH_ARG(double, dropout) = 0.0;
  /// eps of every LayerNorm (vit, vit_moe, hetero_moe read it; model/registry.cpp picks 1e-6,
  /// torchvision's and timm's, for vit and LibTorch's 1e-5 for the others unless configured).
  TORCH_ARG(double, layer_norm_eps) = 1e-5;
  /// A CLS token first in the sequence, read by the head. false (vit and vit_moe only, the
  /// predecessor's moe_route_with_cls_token: false): no CLS token, positions for the patches
  /// only, and the head reads the mean of the final tokens.
  TORCH_ARG(bool, cls_token) = true;
};

}  // namespace moedil::model
