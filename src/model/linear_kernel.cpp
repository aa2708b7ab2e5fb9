#include "moedil/model/linear_kernel.h"

#include "moedil/model/vector_math.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace moedil::model::linear_kernel {

namespace {

/// Outputs per panel of the packed weight: 4 AVX-512 vectors.
constexpr int64_t kPanel = 64;
/// Rows per register tile: 6 rows x 4 vectors = 24 accumulators (of 32 registers), each
/// k-step 4 loads of W, 6 broadcasts of x and 24 fused multiply-adds.
constexpr int kTileRows = 6;

#if MOEDIL_VECTOR_MATH_X86

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 AVX-512 (vector_math.h)

/// What is added to the products before they are stored: the bias (per output), then a
/// residual (per row and output); either may be absent.
struct Epilogue {
  const float* bias = nullptr;
  const float* residual = nullptr;
  int64_t ldr = 0;
};

/// R rows x J vectors of y: one fma chain per output over k in order, from 0; then the bias,
/// then the residual.
template <int R, int J>
MOEDIL_AVX512 inline void tile(const float* x, int64_t ldx, int64_t in, const float* panel,
                               const Epilogue& e, float* y, int64_t ldy) {
  __m512 acc[R][J];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < in; ++k) {
    __m512 w[J];
    for (int j = 0; j < J; ++j) w[j] = _mm512_loadu_ps(panel + k * (16 * J) + 16 * j);
    for (int r = 0; r < R; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r * ldx + k]);
      for (int j = 0; j < J; ++j) acc[r][j] = _mm512_fmadd_ps(xb, w[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < J; ++j) {
      __m512 v = acc[r][j];
      if (e.bias != nullptr) v = _mm512_add_ps(v, _mm512_loadu_ps(e.bias + 16 * j));
      if (e.residual != nullptr) {
        v = _mm512_add_ps(v, _mm512_loadu_ps(e.residual + r * e.ldr + 16 * j));
      }
      _mm512_storeu_ps(y + r * ldy + 16 * j, v);
    }
  }
}

/// All `rows` rows of one panel J vectors wide: whole tiles, then the rest in one smaller tile.
template <int J>
MOEDIL_AVX512 void panel_rows(const float* x, int64_t ldx, int64_t rows, int64_t in,
                              const float* panel, Epilogue e, float* y, int64_t ldy) {
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    tile<kTileRows, J>(x + r * ldx, ldx, in, panel, e, y + r * ldy, ldy);
    if (e.residual != nullptr) e.residual += kTileRows * e.ldr;
  }
  const float* xr = x + r * ldx;
  float* yr = y + r * ldy;
  switch (rows - r) {
    case 5: return tile<5, J>(xr, ldx, in, panel, e, yr, ldy);
    case 4: return tile<4, J>(xr, ldx, in, panel, e, yr, ldy);
    case 3: return tile<3, J>(xr, ldx, in, panel, e, yr, ldy);
    case 2: return tile<2, J>(xr, ldx, in, panel, e, yr, ldy);
    case 1: return tile<1, J>(xr, ldx, in, panel, e, yr, ldy);
    default: return;
  }
}

#pragma GCC diagnostic pop

void forward_avx512(const float* x, int64_t ldx, int64_t rows, int64_t in, const float* packed,
                    const float* bias, int64_t out, float* y, int64_t ldy,
                    const float* residual, int64_t ldr) {
  // Panel by panel (its [in][64] weights stay in L1 while the rows pass).
  for (int64_t p0 = 0; p0 < out; p0 += kPanel) {
    const int64_t width = std::min(kPanel, out - p0);
    const float* panel = packed + p0 * in;
    const Epilogue e{bias != nullptr ? bias + p0 : nullptr,
                     residual != nullptr ? residual + p0 : nullptr, ldr};
    float* yp = y + p0;
    switch (width / 16) {
      case 4: panel_rows<4>(x, ldx, rows, in, panel, e, yp, ldy); break;
      case 3: panel_rows<3>(x, ldx, rows, in, panel, e, yp, ldy); break;
      case 2: panel_rows<2>(x, ldx, rows, in, panel, e, yp, ldy); break;
      default: panel_rows<1>(x, ldx, rows, in, panel, e, yp, ldy); break;
    }
  }
}

#endif  // MOEDIL_VECTOR_MATH_X86

}  // namespace

bool applies(int64_t in, int64_t out, rows::Kernel kernel) {
#if MOEDIL_VECTOR_MATH_X86
  return kernel == rows::Kernel::Avx512 && in > 0 && out > 0 && out % 16 == 0;
#else
  (void)in, (void)out, (void)kernel;
  return false;
#endif
}

int64_t packed_floats(int64_t in, int64_t out) { return in * out; }

void pack(const float* weight, int64_t in, int64_t out, float* packed) {
  for (int64_t p0 = 0; p0 < out; p0 += kPanel) {
    const int64_t width = std::min(kPanel, out - p0);
    float* dst = packed + p0 * in;
    for (int64_t k = 0; k < in; ++k) {
      for (int64_t c = 0; c < width; ++c) dst[k * width + c] = weight[(p0 + c) * in + k];
    }
  }
}

void forward(const float* x, int64_t ldx, int64_t rows, int64_t in, const float* packed,
             const float* bias, int64_t out, float* y, int64_t ldy, rows::Kernel kernel,
             const float* residual, int64_t ldr) {
  if (!applies(in, out, kernel)) {
    throw std::logic_error("linear_kernel::forward: no kernel for " + std::to_string(in) +
                           " -> " + std::to_string(out) + " on " + rows::kernel_name(kernel) +
                           " (check linear_kernel::applies first)");
  }
#if MOEDIL_VECTOR_MATH_X86
  if (rows > 0) forward_avx512(x, ldx, rows, in, packed, bias, out, y, ldy, residual, ldr);
#endif
}

}  // namespace moedil::model::linear_kernel
