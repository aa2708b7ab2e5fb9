#pragma once
// GELU (the exact, erf form) on float32 CPU tensors by moedil's elementwise kernel
// (model/row_kernels.h). LibTorch 1.13 runs the CPU GELU through oneDNN, which builds its
// primitive anew on every call and opens an OpenMP parallel region even for a few hundred
// elements: at the peer benchmark's shapes 19 regions per training step, 8 of them after a
// pause long enough for the OpenMP workers to have gone to sleep (bench/README.md). Here a
// tensor of at most kGeluPiece elements runs on the calling thread, a larger one in pieces of
// kGeluPiece over LibTorch's threads (model/parallel_pieces.h); the backward likewise, from the
// saved input. Elementwise, so the bits do not depend on the thread count. The same function
// as LibTorch's within float rounding and the erf approximation's 1.5e-7 (RowKernels.Gelu* and
// ApplyGelu.* in the tests); results differ from LibTorch's in the last bits, which a long
// training can carry into a metric's third digit (the quickstart's did, bench/README.md).
// Elsewhere (not float32, not contiguous, not on the CPU, CPU autocast on) it is at::gelu; a
// double backward (create_graph) differentiates through at::gelu_backward.
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace moedil::model {

/// Elements per piece: ~10 us of work. A tensor of at most this many runs without a parallel
/// region.
inline constexpr int64_t kGeluPiece = 16384;

/// gelu(x) (approximate = "none"): moedil's kernel when direct_gelu_applies(x), else at::gelu.
at::Tensor apply_gelu(const at::Tensor& x);

/// True when apply_gelu(x) uses moedil's kernel: x float32, contiguous, on the CPU, with
/// elements; no CPU autocast.
bool direct_gelu_applies(const at::Tensor& x);

}  // namespace moedil::model
