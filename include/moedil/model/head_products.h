#pragma once
// The small products of one attention head on the CPU (model/cpu_attention.h): the scores
// q k^T, the softmax's weighted sum of the values and the backward's four products, for a few
// dozen tokens and head dims of 8-64, where a BLAS call spends more on its setup than on the
// arithmetic (at 50 tokens and 16 dims the forward's pair took 2.2 us through OpenBLAS, 1.4 us
// here, K's transpose included, on a Zen 5).
// Every output element is one chain of fused multiply-adds over the inner dimension in order,
// started from 0, so the AVX2 (8 lanes) and AVX-512 (16 lanes) kernels give the same bits, the
// bits of std::fma applied in that order. No kernel for plain C++ (Kernel::Scalar): applies()
// says false and the caller takes its BLAS. Torch-free.
#include <cstdint>

#include "moedil/model/row_kernels.h"

namespace moedil::model::heads {

/// tk rounded up to 8: the columns of a scores row that scores() writes, and the row length to
/// hand rows::softmax (the columns past tk hold -inf, so they come out 0 and leave the rest as
/// a softmax over tk columns gives it, bit for bit).
int64_t padded_keys(int64_t tk);

/// Floats of scratch that scores() needs for tk keys of head_dim: K transposed, its rows
/// padded to 16.
int64_t scratch_floats(int64_t tk, int64_t head_dim);

/// Whether scores() and weighted_sum() run: kernel Avx2 or Avx512 (on a CPU that has it) and
/// head_dim a positive multiple of 8.
bool applies(int64_t head_dim, rows::Kernel kernel = rows::best_kernel());

/// s[i * lds + j] = scale * sum_d q[i * ldq + d] * k[j * ldk + d] for i < tq, j < tk (the sum a
/// chain of fused multiply-adds in d's order, then one multiplication by scale), and
/// s[i * lds + j] = -inf for tk <= j < padded_keys(tk). lds >= padded_keys(tk); scratch holds
/// scratch_floats(tk, head_dim). Throws std::logic_error where !applies(head_dim, kernel).
void scores(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq, int64_t tk,
            int64_t head_dim, float scale, float* s, int64_t lds, float* scratch,
            rows::Kernel kernel = rows::best_kernel());

/// scores() with scale 1 and 0 (not -inf) in the columns from tk to padded_keys(tk): the
/// backward's d(probs) = d(out) v^T, which the softmax backward reads over padded_keys(tk)
/// columns beside probs' zeros.
void products(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq, int64_t tk,
              int64_t head_dim, float* s, int64_t lds, float* scratch,
              rows::Kernel kernel = rows::best_kernel());

/// scores(), then rows::softmax(s, tq, padded_keys(tk), lds, kernel): each row's softmax over
/// its tk keys, 0 in the columns from tk to padded_keys(tk). With Avx512 and tk <= 64 in one
/// pass, each row held in registers (no store and reload between the two), with the same bits
/// as the two calls. Throws std::logic_error where !applies(head_dim, kernel).
void softmax_scores(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t tq,
                    int64_t tk, int64_t head_dim, float scale, float* s, int64_t lds,
                    float* scratch, rows::Kernel kernel = rows::best_kernel());

/// out[i * ldo + d] = sum_j p[i * ldp + j] * v[j * ldv + d] for i < tq, d < head_dim, over
/// j < tk (a chain of fused multiply-adds in j's order). Throws std::logic_error where
/// !applies(head_dim, kernel).
void weighted_sum(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t tq,
                  int64_t tk, int64_t head_dim, float* out, int64_t ldo,
                  rows::Kernel kernel = rows::best_kernel());

/// weighted_sum with p transposed: out[j * ldo + d] = sum_i p[i * ldp + j] * v[i * ldv + d] for
/// j < tk, d < head_dim, over i < tq (a chain of fused multiply-adds in i's order): the
/// backward's d(k) = dS^T q and d(v) = P^T d(out). Throws std::logic_error where
/// !applies(head_dim, kernel).
void transposed_weighted_sum(const float* p, int64_t ldp, const float* v, int64_t ldv,
                             int64_t tq, int64_t tk, int64_t head_dim, float* out, int64_t ldo,
                             rows::Kernel kernel = rows::best_kernel());

}  // namespace moedil::model::heads
