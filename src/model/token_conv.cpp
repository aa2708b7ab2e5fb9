#include "moedil/model/token_conv.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/gelu.h"

namespace moedil::model {

TokenConvImpl::TokenConvImpl(const TokenConvOptions& options_) : options(options_) { reset(); }

void TokenConvImpl::reset() {
  TORCH_CHECK(options.grid_h() > 0 && options.grid_w() > 0, "TokenConv: empty patch grid ",
              options.grid_h(), "x", options.grid_w());
  using torch::nn::Conv2dOptions;
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(Conv2dOptions(options.dim(), options.hidden(), 3).padding(1)));
  conv2 = register_module("conv2",
                          torch::nn::Conv2d(Conv2dOptions(options.hidden(), options.dim(), 1)));
}

at::Tensor TokenConvImpl::forward(const at::Tensor& tokens) {
  const int64_t n = tokens.size(0);
  const int64_t h = options.grid_h();
  const int64_t w = options.grid_w();
  TORCH_CHECK(tokens.size(1) == 1 + h * w, "TokenConv: expected ", 1 + h * w,
              " tokens (CLS + ", h, "x", w, " patches), got ", tokens.size(1));
  const at::Tensor grid =
      tokens.slice(1, 1).transpose(1, 2).reshape({n, options.dim(), h, w});  // [n, D, h, w]
  const at::Tensor y = conv2(apply_gelu(conv1(grid))).flatten(2).transpose(1, 2);  // [n, h*w, D]
  return at::cat({y.mean(1, /*keepdim=*/true), y}, 1);
}

}  // namespace moedil::model
