#include "moedil/model/convnext_block.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/linear.h"

namespace moedil::model {

ConvNeXtBlockImpl::ConvNeXtBlockImpl(const ConvNeXtBlockOptions& options_) : options(options_) {
  reset();
}

void ConvNeXtBlockImpl::reset() {
  const int64_t dim = options.dim();
  TORCH_CHECK(dim >= 1, "ConvNeXtBlock: dim ", dim, " must be >= 1");
  TORCH_CHECK(options.layer_scale_init() >= 0.0, "ConvNeXtBlock: layer_scale_init ",
              options.layer_scale_init(), " must be >= 0");
  dwconv = register_module(
      "dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim)));
  norm =
      register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  pwconv1 = register_module("pwconv1", torch::nn::Linear(dim, 4 * dim));
  pwconv2 = register_module("pwconv2", torch::nn::Linear(4 * dim, dim));
  gamma = options.layer_scale_init() > 0.0
              ? register_parameter("gamma", at::full({dim}, options.layer_scale_init()))
              : at::Tensor();
}

at::Tensor ConvNeXtBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = dwconv(x).permute({0, 2, 3, 1});  // [B, H, W, dim]
  y = apply_linear(*pwconv2, apply_linear_gelu(*pwconv1, norm(y)));  // -> [B, H, W, dim]
  if (gamma.defined()) y = y * gamma;
  return x + y.permute({0, 3, 1, 2});  // [B, dim, H, W]
}

}  // namespace moedil::model
