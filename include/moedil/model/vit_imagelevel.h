#pragma once
// vit_moe_centroid: a ViT whose chosen blocks have an image-level MoE MLP
// (model/moe/image_level.h: every image's tokens go to ONE expert chosen by a centroid router).
// The model adds every layer's weighted centroid losses to its auxiliary loss; the temperature
// and the KL-balance weight are annealed linearly within each domain by on_epoch_start.
#include <string>
#include <vector>

#include <utility>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/attention.h"
#include "moedil/model/classifier.h"
#include "moedil/model/patch_embedding.h"
#include "moedil/model/moe/image_level.h"
#include "moedil/model/vit_backbone.h"

namespace moedil::model {

/// Pre-norm block with the image-level MoE MLP: h = x + attn(ln1(x)); h + moe(ln2(h)).
class ImageLevelBlockImpl : public torch::nn::Module {
 public:
  ImageLevelBlockImpl(int64_t num_heads, const moe::ImageLevelMoeOptions& moe_options);
  /// [B, T, D] -> [B, T, D]
  at::Tensor forward(const at::Tensor& x);

  torch::nn::LayerNorm norm1{nullptr};
  SelfAttention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  moe::ImageLevelMoe moe{nullptr};
};
TORCH_MODULE(ImageLevelBlock);

struct ViTImageLevelOptions {
  explicit ViTImageLevelOptions(ViTBackboneOptions backbone) : backbone_(std::move(backbone)) {}
  TORCH_ARG(ViTBackboneOptions, backbone);
  /// Blocks whose MLP is an image-level MoE layer.
  TORCH_ARG(std::vector<int64_t>, moe_layers) = std::vector<int64_t>{1, 3};
  TORCH_ARG(int64_t, num_experts) = 4;
  TORCH_ARG(double, alpha_fast) = 0.8;  ///< keep rate of the fast centroids' EMA
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids' EMA
  TORCH_ARG(double, temperature_start) = 1.0;
  TORCH_ARG(double, temperature_end) = 0.1;
  TORCH_ARG(int64_t, anneal_epochs) = 5;
  TORCH_ARG(double, repulsion_weight) = 0.1;
  TORCH_ARG(double, alignment_weight) = 0.1;
  TORCH_ARG(double, consistency_weight) = 0.1;
  TORCH_ARG(double, kl_balance_weight_start) = 1.0;
  TORCH_ARG(double, kl_balance_weight_end) = 0.1;
  TORCH_ARG(moe::BalanceWeights, balance_losses) = moe::BalanceWeights{{"switch", 1.0}};
  TORCH_ARG(std::string, routing) = "token_choice";
  TORCH_ARG(double, capacity_factor) = 0.0;
};

class ViTImageLevelImpl : public ClassifierImpl {
 public:
  /// Throws c10::Error for a patch size not dividing the image, layer indices out of range,
  /// anneal_epochs < 1 or a non-positive temperature.
  explicit ViTImageLevelImpl(const ViTImageLevelOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// The Mixtures' balance losses plus every layer's weighted centroid losses.
  at::Tensor aux_loss() const override;
  /// Sets T and the KL-balance weight for epoch `epoch` of a domain: with
  /// s = min(epoch, anneal_epochs) / anneal_epochs, value = start + (end - start) * s.
  void on_epoch_start(int64_t domain, int64_t epoch) override;
  double temperature() const { return temperature_; }
  double kl_balance_weight() const { return kl_balance_weight_; }

  ViTImageLevelOptions options;
  PatchStem stem;  ///< patch_embed, cls_token, pos_embed
  torch::nn::ModuleList blocks{nullptr};  ///< TransformerBlock or ImageLevelBlock
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
  std::vector<moe::ImageLevelMoe> moe_mlps;  ///< the image-level MoE MLPs, in block order

 private:
  double temperature_;
  double kl_balance_weight_;
};
TORCH_MODULE(ViTImageLevel);

}  // namespace moedil::model
