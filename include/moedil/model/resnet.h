#pragma once
// ResNet-18 for small images: stem ("cifar": 3x3 stride-1 conv + BN + ReLU; "imagenet": 7x7
// stride-2 conv + BN + ReLU + 3x3 stride-2 max pool), 4 stages (layer1..layer4) of 2
// BasicBlocks with widths w, 2w, 4w, 8w and stride 2 at stages 1..3, global average pool, linear
// head (fc). One implementation for the three families:
//  - resnet18: dense;
//  - resnet18_conv_moe: in the moe_stages every 3x3 conv of every block is a ConvMoe
//    (MoE layers "layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv1", ...);
//  - resnet18_block_moe: in the moe_stages every block is a BlockMoe whose experts are whole
//    BasicBlocks (MoE layers "layer4.0", "layer4.1").
#include <optional>
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/classifier.h"
#include "moedil/model/moe/moe_settings.h"

namespace moedil::model {

struct ResNetOptions {
  explicit ResNetOptions(InputShape input) : input_(input) {}
  TORCH_ARG(InputShape, input);
  /// "cifar" (3x3 stride 1, no pooling) or "imagenet" (7x7 stride 2 + max pool).
  TORCH_ARG(std::string, stem) = "cifar";
  /// Width w of the first stage (w, 2w, 4w, 8w); 64 is the standard ResNet-18.
  TORCH_ARG(int64_t, width) = 16;
  /// "none" (dense), "conv" (ConvMoe convolutions) or "block" (BlockMoe blocks).
  TORCH_ARG(std::string, moe_kind) = "none";
  /// Stages (0..3) whose blocks are MoE; ignored when moe_kind is "none".
  TORCH_ARG(std::vector<int64_t>, moe_stages) = std::vector<int64_t>{3};
  /// Routing of every MoE layer.
  TORCH_ARG(moe::MoeSettings, moe) = moe::MoeSettings(moe::MixtureOptions(4));
};

class ResNetImpl : public ClassifierImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// Its forward keeps nothing but the mixtures' counters (linear routers only).
  bool parallel_eval_safe() const override { return true; }

  ResNetOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::MaxPool2d maxpool{nullptr};  ///< imagenet stem only
  /// stages[s] is "layer<s+1>": 2 BasicBlock or BlockMoe.
  std::vector<torch::nn::Sequential> stages;
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace moedil::model
