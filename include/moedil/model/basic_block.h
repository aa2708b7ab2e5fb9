#pragma once
// ResNet BasicBlock: 3x3 conv-BN-ReLU-3x3 conv-BN plus the shortcut (identity, or 1x1 conv+BN
// when the stride or the width changes), then ReLU. With `moe` set, both 3x3 convolutions are
// ConvMoe layers (registered under the same names, conv1 and conv2), the BNs stay dense.
#include <optional>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/conv_moe.h"
#include "moedil/model/moe/moe_settings.h"

namespace moedil::model {

struct BasicBlockOptions {
  BasicBlockOptions(int64_t in_channels, int64_t out_channels, int64_t stride = 1)
      : in_channels_(in_channels), out_channels_(out_channels), stride_(stride) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, stride);
  /// Set: conv1 and conv2 are ConvMoe layers with these routing settings.
  TORCH_ARG(std::optional<moe::MoeSettings>, moe) = std::nullopt;
};

class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  explicit BasicBlockImpl(const BasicBlockOptions& options);
  void reset() override;
  /// x [B, in, H, W] -> [B, out, ceil(H / stride), ceil(W / stride)]
  at::Tensor forward(const at::Tensor& x);
  /// Whether the shortcut is a 1x1 conv + BN (stride or width changes).
  bool has_projection() const { return static_cast<bool>(shortcut_conv); }

  BasicBlockOptions options;
  // Exactly one of conv1 / moe_conv1 (and of conv2 / moe_conv2) is set.
  torch::nn::Conv2d conv1{nullptr};
  moe::ConvMoe moe_conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  moe::ConvMoe moe_conv2{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  torch::nn::Conv2d shortcut_conv{nullptr};  ///< 1x1, stride: only with has_projection()
  torch::nn::BatchNorm2d shortcut_bn{nullptr};
};
TORCH_MODULE(BasicBlock);

}  // namespace moedil::model
