#include "moedil/model/basic_block.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace moedil::model {
namespace {

torch::nn::Conv2dOptions conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false);
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(const BasicBlockOptions& options_) : options(options_) { reset(); }

void BasicBlockImpl::reset() {
  const int64_t in = options.in_channels();
  const int64_t out = options.out_channels();
  const int64_t stride = options.stride();
  TORCH_CHECK(in >= 1 && out >= 1, "BasicBlock: channels ", in, " -> ", out, " must be >= 1");
  TORCH_CHECK(stride >= 1, "BasicBlock: stride ", stride, " must be >= 1");
  const auto make_conv = [&](const char* name, torch::nn::Conv2dOptions shape,
                             torch::nn::Conv2d& dense, moe::ConvMoe& routed) {
    if (options.moe()) {
      const moe::MoeSettings& s = *options.moe();
      routed = register_module(name, moe::ConvMoe(moe::ConvMoeOptions(shape, s.mixture())
                                                      .num_shared(s.num_shared())
                                                      .noise_std(s.noise_std())
                                                      .expert_dropout(s.expert_dropout())));
    } else {
      dense = register_module(name, torch::nn::Conv2d(shape));
    }
  };
  make_conv("conv1", conv3x3(in, out, stride), conv1, moe_conv1);
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out));
  make_conv("conv2", conv3x3(out, out, 1), conv2, moe_conv2);
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out));
  if (stride != 1 || in != out) {
    shortcut_conv = register_module(
        "shortcut_conv",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
    shortcut_bn = register_module("shortcut_bn", torch::nn::BatchNorm2d(out));
  }
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = conv1 ? conv1(x) : moe_conv1(x);  // [B, out, H/s, W/s]
  y = at::relu(bn1(y));
  y = bn2(conv2 ? conv2(y) : moe_conv2(y));
  const at::Tensor identity = shortcut_conv ? shortcut_bn(shortcut_conv(x)) : x;
  return at::relu(y + identity);
}

}  // namespace moedil::model
