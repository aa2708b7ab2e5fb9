#pragma once
// ConvNeXt classifier (dense baseline, convnext_tiny): patchify stem (conv k = s = stem_patch,
// then LayerNorm over channels), 4 stages of ConvNeXt blocks with depths[i] blocks of width
// dims[i], a downsample between stages (LayerNorm over channels, conv k = s = 2; an odd size is
// padded by one row/column at the bottom/right first, so a stage is ceil(size / 2) and never
// reaches 0x0), global average pool, LayerNorm, linear head. Conv and linear weights start from
// N(0, 0.02^2) truncated at +-2 std, biases at 0, as in the paper.
#include <array>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/classifier.h"

namespace moedil::model {

struct ConvNeXtOptions {
  explicit ConvNeXtOptions(InputShape input) : input_(input) {}
  TORCH_ARG(InputShape, input);
  /// Blocks per stage (paper: 3, 3, 9, 3).
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{3, 3, 9, 3};
  /// Width per stage (paper: 96, 192, 384, 768; the default is small enough for a CPU).
  TORCH_ARG(std::vector<int64_t>, dims) = std::vector<int64_t>{32, 64, 128, 256};
  /// Stem conv kernel and stride (paper: 4; 2 keeps more resolution on 28x28).
  TORCH_ARG(int64_t, stem_patch) = 2;
  TORCH_ARG(double, layer_scale_init) = 1e-6;
};

class ConvNeXtImpl : public ClassifierImpl {
 public:
  /// Throws c10::Error unless depths and dims have 4 values >= 1 and stem_patch is in
  /// [1, min(height, width)].
  explicit ConvNeXtImpl(const ConvNeXtOptions& options);
  /// images [B, C, H, W] -> logits [B, num_classes]
  at::Tensor forward(const at::Tensor& images) override;
  /// Its forward keeps nothing but the mixtures' counters (linear routers only).
  bool parallel_eval_safe() const override { return true; }
  /// images [B, C, H, W] -> the 4 stages' outputs [B, dims[i], H_i, W_i], H_0 = H / stem_patch
  /// (floor), H_{i+1} = ceil(H_i / 2).
  std::vector<at::Tensor> features(const at::Tensor& images);

  ConvNeXtOptions options;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::LayerNorm stem_norm{nullptr};
  /// downsample_norms[i], downsample_convs[i] lead into stage i + 1.
  std::vector<torch::nn::LayerNorm> downsample_norms;
  std::vector<torch::nn::Conv2d> downsample_convs;
  std::vector<torch::nn::Sequential> stages;  ///< "stage<i>": depths[i] ConvNeXtBlock
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ConvNeXt);

}  // namespace moedil::model
