#pragma once
// The token stem every ViT family shares: a patch_size x patch_size stride-patch convolution
// into embed_dim channels, a learned CLS token and learned positions.
#include <string>

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include "moedil/model/classifier.h"

namespace moedil::model {

struct PatchStem {
  torch::nn::Conv2d patch_embed{nullptr};
  at::Tensor cls_token;  ///< [1, 1, D]; undefined without a CLS token
  at::Tensor pos_embed;  ///< [1, 1 + N, D] (without a CLS token [1, N, D]), N patches
  /// images [B, C, H, W] -> tokens [B, 1 + N, D]: CLS first, positions added (without a CLS
  /// token [B, N, D]).
  at::Tensor embed(const at::Tensor& images);
  /// Stops (or restarts) their learning: requires_grad on all three.
  void set_requires_grad(bool on);
};

/// Registers the stem on `owner` under the names every checkpoint uses ("patch_embed",
/// "cls_token", "pos_embed"), drawing the weights from the default generator in that order.
/// Throws c10::Error, naming `who`, when patch_size does not divide the image size.
/// `cls`: false registers no cls_token and positions for the patches only.
PatchStem register_patch_stem(torch::nn::Module& owner, const InputShape& input,
                              int64_t patch_size, int64_t dim, const std::string& who,
                              bool cls = true);

}  // namespace moedil::model
