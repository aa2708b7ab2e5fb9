#pragma once
// A Linear layer applied to tokens [..., in] with its bias added by the matrix product itself
// (addmm over the rows flattened to 2-D), as at::linear does for 2-D inputs. LibTorch 1.13's
// at::linear multiplies a 3-D input first and adds the bias in a second pass (and the BLAS
// zeroes the output before its product): one more pass over every activation of every
// projection and MLP layer. Same parameters, same module (checkpoints are unchanged); the same
// sums, the bias added to each finished dot product in either case.
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

namespace moedil::model {

/// layer(x), through at::addmm when x has more than 2 dims, is contiguous and the layer has a
/// bias; else layer->forward(x).
at::Tensor apply_linear(torch::nn::LinearImpl& layer, const at::Tensor& x);

}  // namespace moedil::model
