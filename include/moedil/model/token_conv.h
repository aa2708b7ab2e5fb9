#pragma once
// A convolutional MLP over a ViT's patch grid: the patch tokens [B, 1 + h*w, D] (CLS first) are
// laid out as an image [B, D, h, w], passed through a 3x3 conv (D -> hidden), GELU and a 1x1
// conv (hidden -> D), and read back as tokens; the CLS token's output is the mean of the patch
// outputs. The "conv" expert of hetero_moe.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace moedil::model {

struct TokenConvOptions {
  TokenConvOptions(int64_t dim, int64_t hidden, int64_t grid_h, int64_t grid_w)
      : dim_(dim), hidden_(hidden), grid_h_(grid_h), grid_w_(grid_w) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, grid_h);  ///< patch rows
  TORCH_ARG(int64_t, grid_w);  ///< patch columns
};

class TokenConvImpl : public torch::nn::Cloneable<TokenConvImpl> {
 public:
  explicit TokenConvImpl(const TokenConvOptions& options);
  void reset() override;
  /// [B, 1 + grid_h * grid_w, dim] -> same shape
  at::Tensor forward(const at::Tensor& tokens);

  TokenConvOptions options;
  torch::nn::Conv2d conv1{nullptr};  ///< 3x3, padding 1
  torch::nn::Conv2d conv2{nullptr};  ///< 1x1
};
TORCH_MODULE(TokenConv);

}  // namespace moedil::model
