#pragma once
// moedil's own kernel for a Linear layer's forward product on the CPU, y = x W^T + b for rows
// of x, used by model/linear.h's direct path on CPUs with AVX-512.
//
// Why: at a ViT's widths (x [rows, 64] times W^T [64, 64..192]) OpenBLAS packs both operands
// into its own layout on every call, and moedil first copies the bias into every output row
// for it to add to. Packing W once per call (pack) and reading x where it lies takes 14-20%
// less time than OpenBLAS's AVX-512 kernels with the bias copy at 3,200 rows of 64 -> 64..192,
// 8% at ViT-Small's 384 -> 1152, in one pass over the output (bench/linear_bench's
// BM_ForwardProduct; bench/README.md).
//
// Bits: each output is one chain of fused multiply-adds over the inner dimension in order,
// starting from 0, and the bias added last: y[r][o] = fl(fma-chain_k(x[r][k] W[o][k]) + b[o]).
// Debian 12's OpenBLAS (0.3.21) computes the same with its general AVX-512 (SkylakeX,
// Cooperlake) kernels for an inner dimension up to their block (320 floats), but not in its
// small-matrix path (products under ~10^6 multiply-adds: an expert's few rows, and the last,
// partial row block of a batch) nor with its AVX2 (Haswell) kernels. So with this kernel a
// run's last bits change (the quickstart's ACC 0.2665 -> 0.2668 on AVX-512 kernels). Every
// output row depends on its own row of x only: the bits do not depend on the rows around it,
// the row blocks or the threads.
//
// Only for AVX-512 (rows::Kernel::Avx512; ATEN_CPU_CAPABILITY=avx2 caps it) and outputs that
// are a multiple of 16 wide: elsewhere model/linear.cpp keeps the BLAS, whose AVX2 kernels
// this one does not beat. Packing W costs ~1 us at 64 x 64, so on a few rows OpenBLAS's
// small-matrix path is faster (17 rows: 0.95 against 2.1 us; even at 256 rows): a few
// microseconds a step, kept for one formula on every row. Torch-free.
#include <cstdint>

#include "moedil/model/row_kernels.h"

namespace moedil::model::linear_kernel {

/// Whether forward runs for a layer of `in` inputs and `out` outputs on `kernel`:
/// kernel is Avx512, out is a positive multiple of 16, in is positive.
bool applies(int64_t in, int64_t out, rows::Kernel kernel = rows::best_kernel());

/// Floats of pack's output for W [out, in]: in * out.
int64_t packed_floats(int64_t in, int64_t out);

/// W [out, in] (row-major, a Linear layer's weight) -> `packed`: W^T in panels of 64 outputs
/// (the last one narrower), each panel [in][width] row-major, panel after panel.
void pack(const float* weight, int64_t in, int64_t out, float* packed);

/// y [rows, out] (rows ldy apart) = x [rows, in] (rows ldx apart) times W^T plus bias [out]
/// (nullptr: no bias), plus residual [rows, out] (rows ldr apart; nullptr: none), added in
/// that order: fl(fl(chain + b) + residual), the bits of adding the residual afterwards. With
/// `packed` from pack(). Throws std::logic_error where applies() does not hold (a caller's bug).
void forward(const float* x, int64_t ldx, int64_t rows, int64_t in, const float* packed,
             const float* bias, int64_t out, float* y, int64_t ldy,
             rows::Kernel kernel = rows::best_kernel(), const float* residual = nullptr,
             int64_t ldr = 0);

}  // namespace moedil::model::linear_kernel
