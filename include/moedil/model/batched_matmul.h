#pragma once
// Batched matrix products for attention, a [..., m, k] @ b [..., k, n] with the same leading
// dims, differentiable. LibTorch 1.13's CPU bmm (no MKL) multiplies a batch one matrix at a
// time, serially, through three select()s and a dispatched addmm per matrix: for attention
// (B x heads matrices of tokens x head_dim) that is thousands of small ops per step and one
// busy core. Here each matrix goes straight to the BLAS's cblas_sgemm, the batch split over
// LibTorch's threads, reading strided views (the q, k, v slices of the fused projection) in
// place. Where that does not apply (not float32 on CPU, leading dims that differ, no
// cblas_sgemm in the process) it is at::matmul.
#include <ATen/core/Tensor.h>

namespace moedil::model {

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

/// True when batched_matmul can call the BLAS directly (cblas_sgemm found in this process).
bool direct_sgemm_available();

/// True when batched_matmul(a, b) takes the direct BLAS path for these operands.
bool direct_sgemm_applies(const at::Tensor& a, const at::Tensor& b);

}  // namespace moedil::model
