#pragma once
// A Linear layer applied to rows [..., in], float32 on the CPU, straight through the BLAS.
// LibTorch's at::linear/addmm hands the whole product to OpenBLAS, which scales badly over
// threads at these shapes (a ViT's [B*T, 64] x [64, 192]: ~100 GFLOP/s on one core or two), and
// first copies the bias into the whole output, which on activations larger than the cache
// costs one more trip to memory. Here the rows are cut into blocks of kLinearRowBlock, each
// block one single-threaded sgemm on one of LibTorch's threads, its bias copied just before
// its product while the block is in cache. The backward, in one parallel region, does d(x)
// by the same blocks and d(W) = g^T x (a long inner dimension) in
// linear_weight_grad_parts(rows) parts whose partial products are added in part order, d(b)
// with them: the parts do not depend on the thread count, so neither do the bits
// (ApplyLinear.SameBitsOnOneOrTwoThreads, at 2,100 rows). One exception: a forward of a single
// block (at most kLinearRowBlock rows, e.g. an expert's few rows) runs on the calling thread
// outside any parallel region, where OpenBLAS may split that one product over its own threads;
// its bits then follow the thread count, as at::addmm's always do. On AVX-512 CPUs the forward
// product is moedil's own kernel instead of the sgemm (model/linear_kernel.h: the weights
// packed once per call, the bias added in registers; the bits of OpenBLAS's general AVX-512
// kernels, not of its small-matrix ones); without autograd, fc1's GELU and a block's skip
// connection then join its pass (apply_linear_gelu, apply_linear_residual), and a last block's
// CLS query is projected alone (apply_linear_first_token). The threads take blocks and
// parts as they finish (model/parallel_pieces.h). Same parameters, same module (checkpoints
// are unchanged); the same sums up to float rounding (ApplyLinear.* in linear_test.cpp).
// Only for small layers (in x out <= kLinearMaxDirectWeights): at ViT-Small's 384 -> 1152,
// OpenBLAS's own threading is faster (bench/linear_bench, bench/README.md).
// Elsewhere (no cblas_sgemm in the process, not float32 on the CPU, no bias, not contiguous,
// CPU autocast on) it is at::addmm over the flattened rows, or the layer's own forward.
#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

namespace moedil::model {

/// Rows per block of the forward product and of d(x).
inline constexpr int64_t kLinearRowBlock = 256;
/// The direct path is for layers with at most this many weights (in x out; 128 KiB of floats).
inline constexpr int64_t kLinearMaxDirectWeights = 32768;
/// d(W) is split into one part per this many rows, at most kLinearMaxParts.
inline constexpr int64_t kLinearMinRowsPerPart = 512;
inline constexpr int64_t kLinearMaxParts = 8;

/// layer(x): the direct BLAS path when direct_linear_applies, else at::addmm over the rows
/// flattened to 2-D (x with more than 2 dims, contiguous, a bias), else layer->forward(x).
at::Tensor apply_linear(torch::nn::LinearImpl& layer, const at::Tensor& x);

/// apply_gelu(apply_linear(layer, x)), the same bits; without autograd (no gradient wanted, as
/// in evaluation) and on the direct path in one pass: each block of rows through GELU right
/// after its product, while it is in cache (FeedForward's fc1).
at::Tensor apply_linear_gelu(torch::nn::LinearImpl& layer, const at::Tensor& x);

/// residual + apply_linear(layer, x), the same bits (residual: the output's shape, any
/// strides); without autograd and on moedil's kernel (model/linear_kernel.h) in one pass: the
/// residual added as each output is stored (a transformer block's skip connections).
at::Tensor apply_linear_residual(torch::nn::LinearImpl& layer, const at::Tensor& x,
                                 const at::Tensor& residual);

/// layer(x) for x [B, T, in] where outputs [0, leading) are wanted for each sequence's token 0
/// alone (the query of a ViT's CLS token in its last block): outputs [leading, out) of every
/// token and [0, leading) of token 0 as apply_linear gives them (the same bits); outputs
/// [0, leading) of tokens 1.. are not computed and hold whatever their memory held. Without
/// autograd on moedil's kernel only (both output ranges a multiple of 16 wide): elsewhere an
/// undefined tensor, and the caller runs apply_linear.
at::Tensor apply_linear_first_token(torch::nn::LinearImpl& layer, const at::Tensor& x,
                                    int64_t leading);

/// True when apply_linear(layer, x) goes straight to the BLAS: cblas_sgemm in the process,
/// x with >= 2 dims and rows, at most kLinearMaxDirectWeights weights, x, weight and bias
/// float32, contiguous, on the CPU, and no CPU autocast.
bool direct_linear_applies(const torch::nn::LinearImpl& layer, const at::Tensor& x);

/// How many parts d(W) of `rows` rows is computed in: rows / kLinearMinRowsPerPart, clamped
/// to [1, kLinearMaxParts].
int64_t linear_weight_grad_parts(int64_t rows);

}  // namespace moedil::model
