#pragma once
// Row-wise softmax and its backward on float rows in memory, for the fused CPU attention
// (model/cpu_attention.h): rows of a few dozen floats, where ATen's softmax spends most of its
// time on the row's bookkeeping (5x the cost of an exp over the same elements at T = 50). And
// layer normalisation of such rows and its backward (model/layer_norm.h), for the same reason;
// and the exact GELU and its backward elementwise (model/gelu.h), where LibTorch 1.13 calls
// oneDNN, which builds its kernel anew on every call.
// AVX-512 or AVX2+FMA when the CPU has it (chosen once, at run time), else plain C++. Each
// row's reductions run in a fixed order, so results do not depend on threads. Torch-free.
#include <cstdint>

namespace moedil::model::rows {

/// In order: a CPU that runs one runs those before it (capped_kernel compares them).
enum class Kernel { Scalar, Avx2, Avx512 };

/// The fastest kernels this CPU runs: Avx512 on x86-64 CPUs with AVX-512 F, DQ, BW and VL
/// (and AVX2, FMA), Avx2 on those with AVX2 and FMA, else Scalar. exp and GELU have AVX-512
/// kernels (16 lanes, the same steps as AVX2's 8: the same bits); the softmax, its backward and
/// the layer norm run their AVX2 kernels under Avx512 (rows of 50-64 floats; 16-lane sums would
/// change their last bits). So Avx512 and Avx2 give the same results; Scalar's differ in the
/// last bits. A kernel the CPU lacks runs the next one down. LibTorch's own switch caps it
/// too: ATEN_CPU_CAPABILITY=avx2 runs the AVX2 kernels, =default the plain C++ ones (to compare
/// kernels on one machine).
Kernel best_kernel();

/// "scalar", "avx2" or "avx512" (the log's name for it).
const char* kernel_name(Kernel kernel);

/// What best_kernel() makes of the CPU's best kernel and ATEN_CPU_CAPABILITY's value (nullptr:
/// unset): "default" gives Scalar, "avx2" at most Avx2, anything else the CPU's best.
Kernel capped_kernel(Kernel cpu_best, const char* aten_cpu_capability);

/// out[i] = e^in[i], i < n. Avx2, Avx512: Cephes' polynomial, relative error within a few ulp on
/// [-87.6, 88.3]; 0 below -87.7 (e^x < 1e-38 there), +inf from 88.4 (float's limit: 88.72);
/// NaN stays NaN.
void exp(const float* in, float* out, int64_t n, Kernel kernel = best_kernel());

/// In place, for `count` rows of `n` floats, row r at data + r * ld:
/// x_j := e^(x_j - max) / sum_k e^(x_k - max).
void softmax(float* data, int64_t count, int64_t n, int64_t ld, Kernel kernel = best_kernel());

/// Softmax's backward, in place over `grad`: given p = softmax(x) and grad = dL/dp,
/// grad_j := scale * p_j * (grad_j - sum_k grad_k p_k) (dL/dx times `scale`).
void softmax_backward(const float* p, float* grad, int64_t count, int64_t n, int64_t ld,
                      float scale, Kernel kernel = best_kernel());

/// Layer normalisation of `count` rows of `n` floats, row r at in + r * n, written to
/// out + r * n: out_j = (x_j - mean) * rstd * weight_j + bias_j, with the row's mean, its biased
/// variance var (two passes: the mean, then the squared deviations) and rstd = 1 / sqrt(var +
/// eps). weight and bias hold n floats (nullptr: 1 and 0). mean_out and rstd_out, when not
/// nullptr, get each row's mean and rstd (count floats), what ATen's backward takes.
void layer_norm(const float* in, float* out, const float* weight, const float* bias, float eps,
                float* mean_out, float* rstd_out, int64_t count, int64_t n,
                Kernel kernel = best_kernel());

/// layer_norm's backward for `count` rows of `n` floats, given each row's x, mean and rstd (as
/// layer_norm wrote them), weight (n floats; nullptr: 1) and g = dL/dout. With
/// xhat_j = (x_j - mean) * rstd and a_j = g_j * weight_j, per row:
///   dx_j = rstd * (a_j - mean_k(a_k) - xhat_j * mean_k(a_k * xhat_k))   (dx: count rows)
///   dweight_j += g_j * xhat_j,   dbias_j += g_j                          (n floats each)
/// dweight and dbias accumulate the rows in order. Any of dx, dweight, dbias may be nullptr.
void layer_norm_backward(const float* x, const float* g, const float* mean, const float* rstd,
                         const float* weight, float* dx, float* dweight, float* dbias,
                         int64_t count, int64_t n, Kernel kernel = best_kernel());

/// GELU, the exact (erf) form: out[i] = x_i / 2 * (1 + erf(x_i / sqrt 2)), i < n; in place
/// when out == in. Scalar: std::erfc. Avx2, Avx512: erf by Abramowitz & Stegun 7.1.26
/// (absolute error within 1.5e-7, the approximation oneDNN's and ATen's vectorised GELU use
/// too), for x < 0 as erfc(|x| / sqrt 2), so nothing cancels; e^ by exp's polynomial. NaN
/// stays NaN.
void gelu(const float* in, float* out, int64_t n, Kernel kernel = best_kernel());

/// GELU's backward: dx[i] = g[i] * (1/2 (1 + erf(x_i / sqrt 2)) + x_i e^(-x_i^2 / 2) / sqrt(2 pi)),
/// i < n; dx may be g.
void gelu_backward(const float* x, const float* g, float* dx, int64_t n,
                   Kernel kernel = best_kernel());

}  // namespace moedil::model::rows
