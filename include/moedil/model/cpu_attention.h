#pragma once
// Multi-head self-attention in one pass per (image, head) on the CPU, on LibTorch 1.13 (which
// has no fused attention) and 2.x (where ATen's fused kernel was 17-18% slower on the peer
// experiment): softmax(q k^T / sqrt(dh)) v straight from the fused qkv projection's output
// [B, T, 3C] (C = heads x dh) to the heads' outputs side by side [B, T, C], and back.
// Per (image, head) the T x T scores stay in a buffer of the thread's, rows padded to a whole
// number of vectors (-inf, then 0 after the softmax): q k^T scaled, the row softmax of
// model/row_kernels.h, then times v. The backward does the same per (image, head) from the
// softmax kept by the forward, writing d(qkv) directly. The products run on
// model/head_products.h's kernels where the CPU has AVX2 and the head dim is a multiple of 8
// (the same bits on AVX2 and AVX-512), else on the BLAS. Against the composed ops
// (model/batched_matmul.h's products, a division, ATen's softmax, the heads split and merged
// by copies), it saves the division and its backward, four [B, H, T, T] tensors through
// memory, and the copies. It agrees with them to float rounding, not bit for bit.
// Applies to float32 CPU tensors when the process has cblas_sgemm (model/cblas.h); a double
// backward (create_graph) through it is refused.
#include <ATen/core/Tensor.h>

namespace moedil::model {

/// True when cpu_attention(qkv, heads) runs for this input: float32, CPU, strided, 3 dims
/// [B, T, 3C] with C divisible by heads and a unit stride along the last, cblas_sgemm present.
bool cpu_attention_applies(const at::Tensor& qkv, int64_t heads);

/// qkv [B, T, 3C], per token q | k | v each heads x dh (the layout of one Linear(C, 3C)),
/// -> [B, Q, C], per token the heads' outputs side by side, for the first Q = `queries` tokens'
/// queries against all T keys (-1: every token, Q = T; 1: the CLS token's alone, what the last
/// block of a CLS-reading ViT needs). Differentiable in qkv (the queries of tokens from Q on
/// get a 0 gradient).
at::Tensor cpu_attention(const at::Tensor& qkv, int64_t heads, int64_t queries = -1);

}  // namespace moedil::model
