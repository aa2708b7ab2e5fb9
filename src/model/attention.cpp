#include "moedil/model/attention.h"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cmath>

#include "moedil/model/batched_matmul.h"
#include "moedil/model/cpu_attention.h"
#include "moedil/model/linear.h"

// The one place that picks the attention kernel by LibTorch version.
#if TORCH_VERSION_MAJOR >= 2
#define MOEDIL_FUSED_ATTENTION 1
#else
#define MOEDIL_FUSED_ATTENTION 0
#endif

namespace moedil::model {

bool fused_attention_available() { return MOEDIL_FUSED_ATTENTION != 0; }

at::Tensor scaled_dot_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                bool fused) {
#if MOEDIL_FUSED_ATTENTION
  // No mask, no attention dropout, default scale 1/sqrt(dh): the function of the manual path.
  if (fused) return at::scaled_dot_product_attention(q, k, v);
#else
  (void)fused;
#endif
  const at::Tensor scores =
      batched_matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1)));
  return batched_matmul(at::softmax(scores, -1), v);
}

at::Tensor multi_head_attention(const at::Tensor& qkv, int64_t heads, bool fused) {
  const int64_t batch = qkv.size(0);
  const int64_t tokens = qkv.size(1);
  const int64_t dim = qkv.size(2) / 3;
  // [B, T, 3, H, dh] -> [3, B, H, T, dh]
  const at::Tensor parts =
      qkv.view({batch, tokens, 3, heads, dim / heads}).permute({2, 0, 3, 1, 4});
  const at::Tensor attended = scaled_dot_attention(parts[0], parts[1], parts[2], fused);
  return attended.transpose(1, 2).reshape({batch, tokens, dim});  // [B, H, T, dh] -> [B, T, C]
}

SelfAttentionImpl::SelfAttentionImpl(const SelfAttentionOptions& options_) : options(options_) {
  reset();
}

void SelfAttentionImpl::reset() {
  TORCH_CHECK(options.num_heads() > 0 && options.dim() % options.num_heads() == 0,
              "SelfAttention: dim ", options.dim(), " must be divisible by num_heads ",
              options.num_heads());
  qkv = register_module("qkv", torch::nn::Linear(options.dim(), 3 * options.dim()));
  proj = register_module("proj", torch::nn::Linear(options.dim(), options.dim()));
  drop = register_module("drop", torch::nn::Dropout(options.dropout()));
}

at::Tensor SelfAttentionImpl::attend(const at::Tensor& x) {
  const int64_t heads = options.num_heads();
  const at::Tensor projected = apply_linear(*qkv, x);  // [B, T, 3C]
  // float32 on the CPU with a cblas_sgemm in the process: moedil's own kernel, straight from
  // the projection's layout, on LibTorch 1.13 (no fused attention) and 2.x alike (on 2.6 it ran
  // the peer experiment's training and evaluation 17-18% faster than ATen's fused kernel).
  // Elsewhere (CUDA, a LibTorch without cblas_sgemm): the composed path, fused on 2.x.
  if (options.fused() && cpu_attention_applies(projected, heads)) {
    return cpu_attention(projected, heads);
  }
  return multi_head_attention(projected, heads, options.fused());
}

at::Tensor SelfAttentionImpl::forward(const at::Tensor& x) {
  return drop(apply_linear(*proj, attend(x)));
}

at::Tensor SelfAttentionImpl::add_forward(const at::Tensor& x, const at::Tensor& residual) {
  if (is_training() && options.dropout() > 0.0) return residual + forward(x);
  return apply_linear_residual(*proj, attend(x), residual);
}

at::Tensor SelfAttentionImpl::add_forward_first_query(const at::Tensor& x,
                                                      const at::Tensor& residual) {
  if (is_training() && options.dropout() > 0.0) return residual + forward_first_query(x);
  return apply_linear_residual(*proj, attend_first_query(x), residual);
}

at::Tensor SelfAttentionImpl::forward_first_query(const at::Tensor& x) {
  return drop(apply_linear(*proj, attend_first_query(x)));
}

at::Tensor SelfAttentionImpl::attend_first_query(const at::Tensor& x) {
  const int64_t heads = options.num_heads();
  if (options.fused()) {
    // Without autograd, on moedil's linear kernel: the first token's query alone (cpu_attention
    // with queries = 1 reads no other), a third less of the projection.
    const at::Tensor partial = apply_linear_first_token(*qkv, x, options.dim());
    if (partial.defined() && cpu_attention_applies(partial, heads)) {
      return cpu_attention(partial, heads, /*queries=*/1);
    }
  }
  const at::Tensor projected = apply_linear(*qkv, x);  // [B, T, 3C]
  if (options.fused() && cpu_attention_applies(projected, heads)) {  // as in attend()
    return cpu_attention(projected, heads, /*queries=*/1);
  }
  const int64_t batch = projected.size(0);
  const int64_t tokens = projected.size(1);
  const int64_t dim = projected.size(2) / 3;
  // [B, T, 3, H, dh] -> [3, B, H, T, dh]; the query of token 0 only.
  const at::Tensor parts =
      projected.view({batch, tokens, 3, heads, dim / heads}).permute({2, 0, 3, 1, 4});
  const at::Tensor attended =
      scaled_dot_attention(parts[0].narrow(2, 0, 1), parts[1], parts[2], options.fused());
  return attended.transpose(1, 2).reshape({batch, 1, dim});
}

}  // namespace moedil::model
