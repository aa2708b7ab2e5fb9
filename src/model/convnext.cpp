#include "moedil/model/convnext.h"

#include <algorithm>
#include <string>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include "moedil/model/convnext_block.h"

namespace moedil::model {
namespace {

/// LayerNorm over the channels of x [B, C, H, W].
at::Tensor norm_channels(torch::nn::LayerNorm& norm, const at::Tensor& x) {
  return norm(x.permute({0, 2, 3, 1})).permute({0, 3, 1, 2});
}

torch::nn::LayerNorm channel_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}

/// The paper's initialisation: weights from N(0, std^2) truncated at +-2 std (redrawn), bias 0.
void init_truncated_normal(at::Tensor weight, at::Tensor bias, double std) {
  at::NoGradGuard no_grad;
  weight.normal_(0.0, std);
  at::Tensor draw = at::empty_like(weight);
  for (at::Tensor outside = weight.abs().gt(2.0 * std); outside.any().item<bool>();
       outside = weight.abs().gt(2.0 * std)) {
    draw.normal_(0.0, std);
    weight.copy_(at::where(outside, draw, weight));
  }
  if (bias.defined()) bias.zero_();
}

}  // namespace

ConvNeXtImpl::ConvNeXtImpl(const ConvNeXtOptions& options_) : options(options_) {
  const InputShape& in = options.input();
  const auto& depths = options.depths();
  const auto& dims = options.dims();
  TORCH_CHECK(depths.size() == 4 && dims.size() == 4,
              "ConvNeXt: depths and dims need 4 values, got ", depths.size(), " and ", dims.size());
  for (int64_t i = 0; i < 4; ++i) {
    TORCH_CHECK(depths[i] >= 1 && dims[i] >= 1, "ConvNeXt: stage ", i, " depth ", depths[i],
                " and dim ", dims[i], " must be >= 1");
  }
  const int64_t patch = options.stem_patch();
  TORCH_CHECK(patch >= 1 && patch <= std::min(in.height, in.width), "ConvNeXt: stem_patch ", patch,
              " must be in [1, ", std::min(in.height, in.width), "] for ", in.height, "x", in.width,
              " images");

  stem = register_module(
      "stem",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in.channels, dims[0], patch).stride(patch)));
  stem_norm = register_module("stem_norm", channel_norm(dims[0]));
  for (int64_t i = 0; i < 4; ++i) {
    const std::string index = std::to_string(i);
    if (i > 0) {
      downsample_norms.push_back(
          register_module("downsample_norm" + index, channel_norm(dims[i - 1])));
      downsample_convs.push_back(register_module(
          "downsample_conv" + index,
          torch::nn::Conv2d(torch::nn::Conv2dOptions(dims[i - 1], dims[i], 2).stride(2))));
    }
    torch::nn::Sequential stage;
    for (int64_t b = 0; b < depths[i]; ++b) {
      stage->push_back(ConvNeXtBlock(
          ConvNeXtBlockOptions(dims[i]).layer_scale_init(options.layer_scale_init())));
    }
    stages.push_back(register_module("stage" + index, stage));
  }
  norm = register_module("norm", channel_norm(dims[3]));
  head = register_module("head", torch::nn::Linear(dims[3], in.num_classes));
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      init_truncated_normal(conv->weight, conv->bias, 0.02);
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      init_truncated_normal(linear->weight, linear->bias, 0.02);
    }
  }
}

std::vector<at::Tensor> ConvNeXtImpl::features(const at::Tensor& images) {
  std::vector<at::Tensor> out;
  at::Tensor x = norm_channels(stem_norm, stem(images));  // [B, dims0, H/p, W/p]
  for (std::size_t i = 0; i < stages.size(); ++i) {
    if (i > 0) {
      x = norm_channels(downsample_norms[i - 1], x);
      // Pad odd sizes at the bottom/right so the stride-2 conv gives ceil(size / 2) >= 1.
      const int64_t pad_h = x.size(2) % 2;
      const int64_t pad_w = x.size(3) % 2;
      if (pad_h || pad_w) x = at::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0.0);
      x = downsample_convs[i - 1](x);  // [B, dims_i, ceil(h/2), ceil(w/2)]
    }
    x = stages[i]->forward(x);
    out.push_back(x);
  }
  return out;
}

at::Tensor ConvNeXtImpl::forward(const at::Tensor& images) {
  const at::Tensor last = features(images).back();  // [B, dims3, h, w]
  return head(norm(last.mean({2, 3})));             // GAP -> LayerNorm -> [B, num_classes]
}

}  // namespace moedil::model
