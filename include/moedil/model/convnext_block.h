#pragma once
// ConvNeXt block: 7x7 depthwise conv (padding 3), LayerNorm over channels, Linear dim -> 4 dim,
// GELU, Linear 4 dim -> dim, layer scale (learned per channel, initialised small), residual.
// Drop path is not implemented.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace moedil::model {

struct ConvNeXtBlockOptions {
  explicit ConvNeXtBlockOptions(int64_t dim) : dim_(dim) {}
  TORCH_ARG(int64_t, dim);
  /// Initial value of the layer scale gamma (0: no layer scale).
  TORCH_ARG(double, layer_scale_init) = 1e-6;
};

class ConvNeXtBlockImpl : public torch::nn::Cloneable<ConvNeXtBlockImpl> {
 public:
  explicit ConvNeXtBlockImpl(const ConvNeXtBlockOptions& options);
  void reset() override;
  /// x [B, dim, H, W] -> [B, dim, H, W]
  at::Tensor forward(const at::Tensor& x);

  ConvNeXtBlockOptions options;
  torch::nn::Conv2d dwconv{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear pwconv1{nullptr};
  torch::nn::Linear pwconv2{nullptr};
  at::Tensor gamma;  ///< [dim]; undefined without layer scale
};
TORCH_MODULE(ConvNeXtBlock);

}  // namespace moedil::model
