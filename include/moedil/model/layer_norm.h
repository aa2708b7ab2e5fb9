#pragma once
// A LayerNorm applied to rows [..., n], float32 on the CPU, by moedil's row kernel
// (model/row_kernels.h: one row in registers, two passes for the variance). ATen's CPU layer
// norm spends most of its time on each row's bookkeeping at a ViT's widths (rows of 64 floats:
// 4% of a training step and the largest ATen op of an evaluation forward at the peer
// benchmark's shapes, bench/README.md). The backward is moedil's row kernel too, given this
// forward's mean and rstd, in one parallel region (ATen's opens two; a training step of the
// peer benchmark runs 9 layer norm backwards), d(weight) and d(bias) summed in fixed parts of
// the rows added in part order (model/part_sums.h); there is no double backward (create_graph), as for
// model/cpu_attention.h.
// Same module, same parameters; the same function up to float rounding (LayerNorm.* in
// layer_norm_test.cpp). Rows and parts do not depend on the thread count, so neither do the
// bits, forward or backward.
// Elsewhere (not float32 on the CPU, not contiguous, a normalized_shape of more than one dim,
// no affine parameters, CPU autocast on) it is the layer's own forward.
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/normalization.h>

namespace moedil::model {

/// layer(x): the row kernel when direct_layer_norm_applies, else layer->forward(x).
at::Tensor apply_layer_norm(torch::nn::LayerNormImpl& layer, const at::Tensor& x);

/// True when apply_layer_norm(layer, x) uses the row kernel: x float32, contiguous, on the CPU,
/// with rows; the layer normalising over x's last dim alone, with weight and bias of that size
/// (float32, contiguous, on the CPU); no CPU autocast.
bool direct_layer_norm_applies(const torch::nn::LayerNormImpl& layer, const at::Tensor& x);

}  // namespace moedil::model
