#pragma once
// Vector math shared by moedil's CPU kernels (model/row_kernels.h, model/head_products.h): e^x
// on 8 and 16 lanes with the same steps (so the same bits per lane) and the AVX2 horizontal
// sum and max in the order the row kernels reduce. Each function is compiled for its
// instruction set (GCC inlines an intrinsic only into a function built for it); callers check
// the CPU first (rows::best_kernel). x86-64 only: MOEDIL_VECTOR_MATH_X86 says whether it is
// there. Torch-free.
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <limits>

#define MOEDIL_VECTOR_MATH_X86 1
#define MOEDIL_AVX2 __attribute__((target("avx2,fma")))
#define MOEDIL_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

namespace moedil::model::vec {

/// e^x on 8 lanes: x = n ln2 + r, |r| <= ln2/2, e^r by Cephes' degree-5 polynomial, times 2^n.
MOEDIL_AVX2 inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f);
  const __m256 lo = _mm256_set1_ps(-88.3762626647949f);
  // Above hi: +inf (written at the end). Clamped with x as the second operand, which min/max
  // return when it is NaN: NaN stays NaN.
  const __m256 overflow = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
  x = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
  const __m256 fx =
      _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f),
                                      _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, z, _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // 2^n from the exponent bits; n in [-127, 127]: n = -127 gives 0 (exponent field 0).
  const __m256i n = _mm256_cvttps_epi32(fx);
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23);
  const __m256 pow2 = _mm256_castsi256_ps(bits);
  const __m256 result = _mm256_mul_ps(y, pow2);
  return _mm256_blendv_ps(result, _mm256_set1_ps(std::numeric_limits<float>::infinity()),
                          overflow);
}

MOEDIL_AVX2 inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 0x55)));
}

MOEDIL_AVX2 inline float hmax(__m256 v) {
  const __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(t, _mm_shuffle_ps(t, t, 0x55)));
}

// GCC 12's AVX-512 intrinsics start from a deliberately undefined register (`__Y = __Y`),
// which -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

/// exp8's steps on 16 lanes.
MOEDIL_AVX512 inline __m512 exp16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f);
  const __m512 lo = _mm512_set1_ps(-88.3762626647949f);
  const __mmask16 overflow = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
  x = _mm512_max_ps(lo, _mm512_min_ps(hi, x));  // NaN (second operand) stays NaN
  const __m512 fx = _mm512_roundscale_ps(
      _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
      _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_fmadd_ps(y, z, _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
  const __m512i n = _mm512_cvttps_epi32(fx);
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23);
  const __m512 result = _mm512_mul_ps(y, _mm512_castsi512_ps(bits));
  return _mm512_mask_blend_ps(overflow, result,
                              _mm512_set1_ps(std::numeric_limits<float>::infinity()));
}

#pragma GCC diagnostic pop

}  // namespace moedil::model::vec

#else
#define MOEDIL_VECTOR_MATH_X86 0
#endif
