#include "moedil/model/head_products.h"

#include "moedil/model/vector_math.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace moedil::model::heads {

namespace {

int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

/// Rows of at most this many keys fit in 4 AVX-512 registers (softmax_scores in one pass).
constexpr int64_t kKeysInRegisters = 64;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

#if MOEDIL_VECTOR_MATH_X86

// The blocks below keep R rows x NV vectors of accumulators in registers (8-16 of them) and
// run each accumulator's chain over the inner dimension in order. The AVX2 and AVX-512
// versions are written out separately for the reason given in row_kernels.cpp (GCC inlines an
// intrinsic only into a function compiled for its instruction set).

/// K [tk, dh] (rows ldk apart) -> kt [dh, ldt], zeros in the columns from tk to ldt; by 8 x 8
/// blocks in registers, the keys past the last whole 8 one at a time (element by element, the
/// copy took a quarter of scores()' time at 50 keys of 16 dims).
MOEDIL_AVX2 void transpose_keys8(const float* k, int64_t ldk, int64_t tk, int64_t dh, float* kt,
                                 int64_t ldt) {
  const int64_t whole = tk - tk % 8;
  for (int64_t j = 0; j < whole; j += 8) {
    for (int64_t d = 0; d < dh; d += 8) {  // dh is a multiple of 8 (applies())
      const float* src = k + j * ldk + d;
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ldk);
      __m256 t[8];
      for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
      }
      __m256 u[8];
      for (int i = 0; i < 2; ++i) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
      }
      float* dst = kt + d * ldt + j;
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + i * ldt, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldt, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
      }
    }
  }
  for (int64_t j = whole; j < tk; ++j) {
    const float* row = k + j * ldk;
    for (int64_t d = 0; d < dh; ++d) kt[d * ldt + j] = row[d];
  }
  for (int64_t d = 0; d < dh; ++d) std::fill(kt + d * ldt + tk, kt + (d + 1) * ldt, 0.0f);
}

/// Scores of rows q[0..R) against the 8-key vectors starting at column j0 (NV of them).
template <int R, int NV>
MOEDIL_AVX2 void scores_block8(const float* q, int64_t ldq, const float* kt, int64_t ldt,
                               int64_t dh, float scale, float pad, float* s, int64_t lds,
                               int64_t j0, int64_t tk) {
  __m256 acc[R][NV];
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) acc[a][b] = _mm256_setzero_ps();
  }
  for (int64_t d = 0; d < dh; ++d) {
    const float* kd = kt + d * ldt + j0;
    for (int a = 0; a < R; ++a) {
      const __m256 qa = _mm256_broadcast_ss(q + a * ldq + d);
      for (int b = 0; b < NV; ++b) {
        acc[a][b] = _mm256_fmadd_ps(qa, _mm256_loadu_ps(kd + 8 * b), acc[a][b]);
      }
    }
  }
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256 padding = _mm256_set1_ps(pad);
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) {
      const int64_t j = j0 + 8 * b;
      __m256 x = _mm256_mul_ps(acc[a][b], vscale);
      if (j + 8 > tk) {  // the last vector: pad past tk (lane l is key j + l)
        const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256 keep =
            _mm256_cmp_ps(lane, _mm256_set1_ps(static_cast<float>(tk - j)), _CMP_LT_OQ);
        x = _mm256_blendv_ps(padding, x, keep);
      }
      _mm256_storeu_ps(s + a * lds + j, x);
    }
  }
}

/// Rows [0, tq) against key vectors [v0, v0 + NV), R rows at a time, then one at a time.
template <int R, int NV>
MOEDIL_AVX2 void scores_rows8(const float* q, int64_t ldq, const float* kt, int64_t ldt,
                              int64_t tq, int64_t dh, float scale, float pad, float* s, int64_t lds,
                              int64_t v0, int64_t tk) {
  int64_t i = 0;
  for (; i + R <= tq; i += R) {
    scores_block8<R, NV>(q + i * ldq, ldq, kt, ldt, dh, scale, pad, s + i * lds, lds, 8 * v0, tk);
  }
  for (; i < tq; ++i) {
    scores_block8<1, NV>(q + i * ldq, ldq, kt, ldt, dh, scale, pad, s + i * lds, lds, 8 * v0, tk);
  }
}

MOEDIL_AVX2 void scores_avx2(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq,
                             int64_t tk, int64_t dh, float scale, float pad, float* s, int64_t lds,
                             float* kt) {
  const int64_t ldt = round_up(tk, 8);
  transpose_keys8(k, ldk, tk, dh, kt, ldt);
  const int64_t vectors = ldt / 8;
  int64_t v = 0;
  for (; v + 4 <= vectors; v += 4) {
    scores_rows8<3, 4>(q, ldq, kt, ldt, tq, dh, scale, pad, s, lds, v, tk);
  }
  for (; v < vectors; ++v) scores_rows8<4, 1>(q, ldq, kt, ldt, tq, dh, scale, pad, s, lds, v, tk);
}

/// out rows [0, R) x dims [d0, d0 + 8 NV) from p's rows and v's rows.
template <int R, int NV>
MOEDIL_AVX2 void sum_block8(const float* p, int64_t ldp, int64_t step, const float* v, int64_t ldv,
                            int64_t tk, float* out, int64_t ldo) {
  __m256 acc[R][NV];
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) acc[a][b] = _mm256_setzero_ps();
  }
  for (int64_t j = 0; j < tk; ++j) {
    const float* vj = v + j * ldv;
    for (int a = 0; a < R; ++a) {
      const __m256 pa = _mm256_broadcast_ss(p + a * ldp + j * step);
      for (int b = 0; b < NV; ++b) {
        acc[a][b] = _mm256_fmadd_ps(pa, _mm256_loadu_ps(vj + 8 * b), acc[a][b]);
      }
    }
  }
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) _mm256_storeu_ps(out + a * ldo + 8 * b, acc[a][b]);
  }
}

template <int R, int NV>
MOEDIL_AVX2 void sum_rows8(const float* p, int64_t ldp, int64_t step, const float* v, int64_t ldv,
                           int64_t tq, int64_t tk, float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + R <= tq; i += R) {
    sum_block8<R, NV>(p + i * ldp, ldp, step, v, ldv, tk, out + i * ldo, ldo);
  }
  for (; i < tq; ++i) sum_block8<1, NV>(p + i * ldp, ldp, step, v, ldv, tk, out + i * ldo, ldo);
}

/// out[i * ldo + d] = sum_{j < tk} p[i * ldp + j * step] v[j * ldv + d], i < tq, d < dh.
MOEDIL_AVX2 void weighted_sum_avx2(const float* p, int64_t ldp, int64_t step, const float* v,
                                   int64_t ldv, int64_t tq, int64_t tk, int64_t dh, float* out,
                                   int64_t ldo) {
  int64_t d = 0;
  for (; d + 16 <= dh; d += 16) sum_rows8<6, 2>(p, ldp, step, v + d, ldv, tq, tk, out + d, ldo);
  for (; d < dh; d += 8) sum_rows8<8, 1>(p, ldp, step, v + d, ldv, tq, tk, out + d, ldo);
}

// GCC 12's AVX-512 intrinsics start from a deliberately undefined register (`__Y = __Y`),
// which -Wmaybe-uninitialized and -Wuninitialized report at its uses (GCC bug 105593, fixed
// in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

/// rows::softmax of R rows of scores, each held in NV vectors of 16 (the whole row, -inf past
/// its keys), in place, with the AVX2 kernel's steps: the row's max, e^(x - max) by the same
/// polynomial, the sum over the row's 8-lane halves in column order reduced as vec::hsum does,
/// then times 1 / sum. So the same bits as rows::softmax over padded_keys(tk) columns. Each
/// step runs over the R rows before the next, so that their dependency chains overlap.
template <int R, int NV>
MOEDIL_AVX512 void softmax_in_registers(__m512 (&rows)[R][NV]) {
  __m512 max[R];
  for (int a = 0; a < R; ++a) {
    __m512 m = rows[a][0];
    for (int b = 1; b < NV; ++b) m = _mm512_max_ps(m, rows[a][b]);
    max[a] = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  }
  __m256 sum[R];
  for (int a = 0; a < R; ++a) sum[a] = _mm256_setzero_ps();
  for (int b = 0; b < NV; ++b) {
    for (int a = 0; a < R; ++a) {
      rows[a][b] = vec::exp16(_mm512_sub_ps(rows[a][b], max[a]));
      sum[a] = _mm256_add_ps(sum[a], _mm512_castps512_ps256(rows[a][b]));
      sum[a] = _mm256_add_ps(sum[a], _mm512_extractf32x8_ps(rows[a][b], 1));
    }
  }
  for (int a = 0; a < R; ++a) {
    const __m512 inverse = _mm512_set1_ps(1.0f / vec::hsum(sum[a]));
    for (int b = 0; b < NV; ++b) rows[a][b] = _mm512_mul_ps(rows[a][b], inverse);
  }
}

/// scores_block8 on 16 keys a vector; the last vector is stored up to padded_keys(tk). With
/// kSoftmax the block holds whole rows (j0 = 0, 16 NV >= tk) and stores their softmax.
template <int R, int NV, bool kSoftmax = false>
MOEDIL_AVX512 void scores_block16(const float* q, int64_t ldq, const float* kt, int64_t ldt,
                                  int64_t dh, float scale, float pad, float* s, int64_t lds,
                                  int64_t j0, int64_t tk) {
  __m512 acc[R][NV];
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) acc[a][b] = _mm512_setzero_ps();
  }
  for (int64_t d = 0; d < dh; ++d) {
    const float* kd = kt + d * ldt + j0;
    for (int a = 0; a < R; ++a) {
      const __m512 qa = _mm512_set1_ps(q[a * ldq + d]);
      for (int b = 0; b < NV; ++b) {
        acc[a][b] = _mm512_fmadd_ps(qa, _mm512_loadu_ps(kd + 16 * b), acc[a][b]);
      }
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512 padding = _mm512_set1_ps(pad);
  const int64_t padded = padded_keys(tk);
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) {
      const int64_t j = j0 + 16 * b;
      acc[a][b] = _mm512_mul_ps(acc[a][b], vscale);
      if (j + 16 > tk) {
        const int64_t keys = std::max<int64_t>(0, tk - j);
        acc[a][b] = _mm512_mask_blend_ps(static_cast<__mmask16>((1u << keys) - 1u), padding,
                                         acc[a][b]);
      }
    }
  }
  if constexpr (kSoftmax) softmax_in_registers<R, NV>(acc);
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) {
      const int64_t j = j0 + 16 * b;
      if (j + 16 > padded) {
        const int64_t written = std::min<int64_t>(16, padded - j);
        _mm512_mask_storeu_ps(s + a * lds + j, static_cast<__mmask16>((1u << written) - 1u),
                              acc[a][b]);
      } else {
        _mm512_storeu_ps(s + a * lds + j, acc[a][b]);
      }
    }
  }
}

template <int R, int NV>
MOEDIL_AVX512 void scores_rows16(const float* q, int64_t ldq, const float* kt, int64_t ldt,
                                 int64_t tq, int64_t dh, float scale, float pad, float* s,
                                 int64_t lds, int64_t v0, int64_t tk) {
  int64_t i = 0;
  for (; i + R <= tq; i += R) {
    scores_block16<R, NV>(q + i * ldq, ldq, kt, ldt, dh, scale, pad, s + i * lds, lds, 16 * v0, tk);
  }
  for (; i < tq; ++i) {
    scores_block16<1, NV>(q + i * ldq, ldq, kt, ldt, dh, scale, pad, s + i * lds, lds, 16 * v0, tk);
  }
}

MOEDIL_AVX512 void scores_avx512(const float* q, int64_t ldq, const float* k, int64_t ldk,
                                 int64_t tq, int64_t tk, int64_t dh, float scale, float pad,
                                 float* s, int64_t lds, float* kt) {
  const int64_t ldt = round_up(tk, 16);
  transpose_keys8(k, ldk, tk, dh, kt, ldt);
  const int64_t vectors = ldt / 16;
  int64_t v = 0;
  for (; v + 4 <= vectors; v += 4) {
    scores_rows16<4, 4>(q, ldq, kt, ldt, tq, dh, scale, pad, s, lds, v, tk);
  }
  for (; v < vectors; ++v) scores_rows16<8, 1>(q, ldq, kt, ldt, tq, dh, scale, pad, s, lds, v, tk);
}

/// Whole rows of up to 64 keys: scores and softmax in registers, 4 rows at a time.
template <int NV>
MOEDIL_AVX512 void softmax_rows16(const float* q, int64_t ldq, const float* kt, int64_t ldt,
                                  int64_t tq, int64_t dh, float scale, float* s, int64_t lds,
                                  int64_t tk) {
  int64_t i = 0;
  for (; i + 4 <= tq; i += 4) {
    scores_block16<4, NV, true>(q + i * ldq, ldq, kt, ldt, dh, scale, kNegInf, s + i * lds, lds,
                                0, tk);
  }
  for (; i < tq; ++i) {
    scores_block16<1, NV, true>(q + i * ldq, ldq, kt, ldt, dh, scale, kNegInf, s + i * lds, lds,
                                0, tk);
  }
}

/// softmax_scores() for tk <= 64.
MOEDIL_AVX512 void softmax_scores_avx512(const float* q, int64_t ldq, const float* k,
                                         int64_t ldk, int64_t tq, int64_t tk, int64_t dh,
                                         float scale, float* s, int64_t lds, float* kt) {
  const int64_t ldt = round_up(tk, 16);
  transpose_keys8(k, ldk, tk, dh, kt, ldt);
  switch (ldt / 16) {
    case 1: return softmax_rows16<1>(q, ldq, kt, ldt, tq, dh, scale, s, lds, tk);
    case 2: return softmax_rows16<2>(q, ldq, kt, ldt, tq, dh, scale, s, lds, tk);
    case 3: return softmax_rows16<3>(q, ldq, kt, ldt, tq, dh, scale, s, lds, tk);
    default: return softmax_rows16<4>(q, ldq, kt, ldt, tq, dh, scale, s, lds, tk);
  }
}

template <int R, int NV>
MOEDIL_AVX512 void sum_block16(const float* p, int64_t ldp, int64_t step, const float* v,
                               int64_t ldv, int64_t tk, float* out, int64_t ldo) {
  __m512 acc[R][NV];
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) acc[a][b] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < tk; ++j) {
    const float* vj = v + j * ldv;
    for (int a = 0; a < R; ++a) {
      const __m512 pa = _mm512_set1_ps(p[a * ldp + j * step]);
      for (int b = 0; b < NV; ++b) {
        acc[a][b] = _mm512_fmadd_ps(pa, _mm512_loadu_ps(vj + 16 * b), acc[a][b]);
      }
    }
  }
  for (int a = 0; a < R; ++a) {
    for (int b = 0; b < NV; ++b) _mm512_storeu_ps(out + a * ldo + 16 * b, acc[a][b]);
  }
}

template <int R, int NV>
MOEDIL_AVX512 void sum_rows16(const float* p, int64_t ldp, int64_t step, const float* v,
                              int64_t ldv, int64_t tq, int64_t tk, float* out, int64_t ldo) {
  int64_t i = 0;
  for (; i + R <= tq; i += R) {
    sum_block16<R, NV>(p + i * ldp, ldp, step, v, ldv, tk, out + i * ldo, ldo);
  }
  for (; i < tq; ++i) {
    sum_block16<1, NV>(p + i * ldp, ldp, step, v, ldv, tk, out + i * ldo, ldo);
  }
}

/// The dims in vectors of 16; a last 8 (head_dim % 16 == 8) by the AVX2 kernel, which gives
/// the same bits.
MOEDIL_AVX512 void weighted_sum_avx512(const float* p, int64_t ldp, int64_t step, const float* v,
                                       int64_t ldv, int64_t tq, int64_t tk, int64_t dh, float* out,
                                       int64_t ldo) {
  int64_t d = 0;
  for (; d + 32 <= dh; d += 32) {
    sum_rows16<6, 2>(p, ldp, step, v + d, ldv, tq, tk, out + d, ldo);
  }
  for (; d + 16 <= dh; d += 16) {
    sum_rows16<8, 1>(p, ldp, step, v + d, ldv, tq, tk, out + d, ldo);
  }
  if (d < dh) weighted_sum_avx2(p, ldp, step, v + d, ldv, tq, tk, dh - d, out + d, ldo);
}

#pragma GCC diagnostic pop

#endif  // MOEDIL_VECTOR_MATH_X86

bool runs(rows::Kernel kernel, rows::Kernel wanted) {
  return kernel >= wanted && rows::best_kernel() >= wanted;
}

/// Callers check applies() first; a call where it does not hold is a bug, not a no-op.
void require(const char* what, int64_t head_dim, rows::Kernel kernel) {
  if (!applies(head_dim, kernel)) {
    throw std::logic_error(std::string("heads::") + what + ": no kernel for head_dim " +
                           std::to_string(head_dim) + " with " + rows::kernel_name(kernel) +
                           " on this CPU (check heads::applies first)");
  }
}

/// scale * q k^T with `pad` in the columns from tk to padded_keys(tk), by the kernel.
void padded_products(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq,
                     int64_t tk, int64_t dh, float scale, float pad, float* s, int64_t lds,
                     float* scratch, rows::Kernel kernel) {
#if MOEDIL_VECTOR_MATH_X86
  if (runs(kernel, rows::Kernel::Avx512)) {
    return scores_avx512(q, ldq, k, ldk, tq, tk, dh, scale, pad, s, lds, scratch);
  }
  if (runs(kernel, rows::Kernel::Avx2)) {
    return scores_avx2(q, ldq, k, ldk, tq, tk, dh, scale, pad, s, lds, scratch);
  }
#endif
  (void)q, (void)ldq, (void)k, (void)ldk, (void)tq, (void)tk, (void)dh, (void)scale, (void)pad;
  (void)s, (void)lds, (void)scratch, (void)kernel;
}

/// out[i * ldo + d] = sum_{j < tk} p[i * ldp + j * step] v[j * ldv + d] by the kernel.
void strided_weighted_sum(const float* p, int64_t ldp, int64_t step, const float* v, int64_t ldv,
                          int64_t tq, int64_t tk, int64_t dh, float* out, int64_t ldo,
                          rows::Kernel kernel) {
#if MOEDIL_VECTOR_MATH_X86
  if (runs(kernel, rows::Kernel::Avx512)) {
    return weighted_sum_avx512(p, ldp, step, v, ldv, tq, tk, dh, out, ldo);
  }
  if (runs(kernel, rows::Kernel::Avx2)) {
    return weighted_sum_avx2(p, ldp, step, v, ldv, tq, tk, dh, out, ldo);
  }
#endif
  (void)p, (void)ldp, (void)step, (void)v, (void)ldv, (void)tq, (void)tk, (void)dh, (void)out;
  (void)ldo, (void)kernel;
}

}  // namespace

int64_t padded_keys(int64_t tk) { return round_up(tk, 8); }

int64_t scratch_floats(int64_t tk, int64_t head_dim) { return round_up(tk, 16) * head_dim; }

bool applies(int64_t head_dim, rows::Kernel kernel) {
#if MOEDIL_VECTOR_MATH_X86
  return head_dim > 0 && head_dim % 8 == 0 && runs(kernel, rows::Kernel::Avx2);
#else
  (void)head_dim;
  (void)kernel;
  return false;
#endif
}

void scores(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq, int64_t tk,
            int64_t head_dim, float scale, float* s, int64_t lds, float* scratch,
            rows::Kernel kernel) {
  require("scores", head_dim, kernel);
  padded_products(q, ldq, k, ldk, tq, tk, head_dim, scale, kNegInf, s, lds, scratch, kernel);
}

void products(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq, int64_t tk,
              int64_t head_dim, float* s, int64_t lds, float* scratch, rows::Kernel kernel) {
  require("products", head_dim, kernel);
  padded_products(q, ldq, k, ldk, tq, tk, head_dim, 1.0f, 0.0f, s, lds, scratch, kernel);
}

void softmax_scores(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq,
                    int64_t tk, int64_t head_dim, float scale, float* s, int64_t lds,
                    float* scratch, rows::Kernel kernel) {
  require("softmax_scores", head_dim, kernel);
#if MOEDIL_VECTOR_MATH_X86
  if (runs(kernel, rows::Kernel::Avx512) && tk <= kKeysInRegisters) {
    return softmax_scores_avx512(q, ldq, k, ldk, tq, tk, head_dim, scale, s, lds, scratch);
  }
#endif
  scores(q, ldq, k, ldk, tq, tk, head_dim, scale, s, lds, scratch, kernel);
  rows::softmax(s, tq, padded_keys(tk), lds, kernel);
}

void weighted_sum(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t tq,
                  int64_t tk, int64_t head_dim, float* out, int64_t ldo, rows::Kernel kernel) {
  require("weighted_sum", head_dim, kernel);
  strided_weighted_sum(p, ldp, 1, v, ldv, tq, tk, head_dim, out, ldo, kernel);
}

void transposed_weighted_sum(const float* p, int64_t ldp, const float* v, int64_t ldv,
                             int64_t tq, int64_t tk, int64_t head_dim, float* out, int64_t ldo,
                             rows::Kernel kernel) {
  require("transposed_weighted_sum", head_dim, kernel);
  // Output row j weighs v's rows i by p's column j: rows 1 float apart, steps ldp.
  strided_weighted_sum(p, 1, ldp, v, ldv, tk, tq, head_dim, out, ldo, kernel);
}

}  // namespace moedil::model::heads
