#pragma once
// CBLAS's sgemm, looked up in the process rather than linked: LibTorch brings its BLAS (Debian:
// libblas.so.3, OpenBLAS or the reference one, both with CBLAS); a LibTorch with MKL inside
// exports none. Used by the attention kernels on LibTorch 1.13 (model/batched_matmul.h,
// model/cpu_attention.h). Torch-free.
namespace moedil::model::cblas {

// CBLAS's row-major interface (enum values of cblas.h, stable across BLAS libraries).
inline constexpr int kRowMajor = 101;
inline constexpr int kNoTrans = 111;
inline constexpr int kTrans = 112;

using Sgemm = void (*)(int order, int transa, int transb, int m, int n, int k, float alpha,
                       const float* a, int lda, const float* b, int ldb, float beta, float* c,
                       int ldc);

/// cblas_sgemm of this process, nullptr when there is none.
Sgemm sgemm();

}  // namespace moedil::model::cblas
