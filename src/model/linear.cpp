#include "moedil/model/linear.h"

#include <ATen/Functions.h>

#include <vector>

namespace moedil::model {

at::Tensor apply_linear(torch::nn::LinearImpl& layer, const at::Tensor& x) {
  const at::Tensor& bias = layer.bias;
  if (x.dim() <= 2 || !bias.defined() || !x.is_contiguous() || x.numel() == 0) {
    return layer.forward(x);
  }
  const int64_t in = x.size(-1);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = layer.weight.size(0);
  return at::addmm(bias, x.view({-1, in}), layer.weight.t()).view(shape);
}

}  // namespace moedil::model
