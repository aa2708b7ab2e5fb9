#include "moedil/model/cpu_attention.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "moedil/model/cblas.h"
#include "moedil/model/head_products.h"
#include "moedil/model/parallel_pieces.h"
#include "moedil/model/row_kernels.h"

namespace moedil::model {

namespace {

using cblas::kNoTrans;
using cblas::kRowMajor;
using cblas::kTrans;

/// The sizes of one call: qkv [B, T, 3C], heads H of dh, rows of qkv `ld` floats apart.
struct Shape {
  int64_t batch = 0;
  int64_t tokens = 0;
  int64_t queries = 0;  // the first `queries` tokens' outputs are computed
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t dim = 0;  // C
  int64_t qkv_batch_stride = 0;
  int ld = 0;  // qkv's row stride
  float scale = 1.0f;
};

Shape shape_of(const at::Tensor& qkv, int64_t heads, int64_t queries) {
  Shape s;
  s.batch = qkv.size(0);
  s.tokens = qkv.size(1);
  s.queries = queries;
  s.dim = qkv.size(2) / 3;
  s.heads = heads;
  s.head_dim = s.dim / heads;
  s.qkv_batch_stride = qkv.stride(0);
  s.ld = static_cast<int>(qkv.stride(1));
  s.scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  return s;
}

/// Where task i = (image b, head h) reads q, k and v in qkv.
struct HeadOperands {
  int64_t b, h;
  const float* q;
  const float* k;
  const float* v;
  HeadOperands(const float* base, const Shape& s, int64_t i)
      : b(i / s.heads),
        h(i % s.heads),
        q(base + b * s.qkv_batch_stride + h * s.head_dim),
        k(q + s.dim),
        v(q + 2 * s.dim) {}
};

/// Pieces of at least ~64k multiply-adds each, and at most an eighth of a thread's share, so
/// that threads left running can take over the pieces of one that waits for its core.
int64_t piece_of(const Shape& s) {
  const int64_t pairs = s.batch * s.heads;
  const int64_t smallest =
      std::max<int64_t>(1, 65536 / std::max<int64_t>(1, 2 * s.queries * s.tokens * s.head_dim));
  const int64_t share = pairs / (8 * std::max<int64_t>(1, at::get_num_threads()));
  return std::max(smallest, share);
}

/// Scores rows are padded_keys(T) floats apart: the columns past T hold -inf before the
/// softmax (which turns them to 0), so the softmax runs over whole vectors and gives the bits
/// of a softmax over T columns (heads::padded_keys).
int64_t scores_ld(const Shape& s) { return heads::padded_keys(s.tokens); }

/// out [B, Q, C] (contiguous) from qkv, Q = s.queries; the softmax of each (image, head) goes to
/// probs [B, H, Q, scores_ld] when given, else to a buffer of the thread's. The two products by
/// model/head_products.h's kernels where they apply, else by the BLAS.
void forward_kernel(const at::Tensor& qkv, const Shape& s, float* out, float* probs) {
  const float* base = qkv.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  const int t = static_cast<int>(s.tokens);
  const int nq = static_cast<int>(s.queries);
  const int dh = static_cast<int>(s.head_dim);
  const int c = static_cast<int>(s.dim);
  const int64_t lds = scores_ld(s);
  const bool own = heads::applies(s.head_dim);
  parallel_pieces(s.batch * s.heads, piece_of(s), [&](int64_t begin, int64_t end) {
    std::vector<float> buffer(probs == nullptr ? s.queries * lds : 0);
    std::vector<float> scratch(own ? heads::scratch_floats(s.tokens, s.head_dim) : 0);
    for (int64_t i = begin; i < end; ++i) {
      const HeadOperands o(base, s, i);
      float* scores = probs != nullptr ? probs + i * s.queries * lds : buffer.data();
      float* o_out = out + o.b * s.queries * s.dim + o.h * s.head_dim;
      if (own) {
        heads::softmax_scores(o.q, s.ld, o.k, s.ld, s.queries, s.tokens, s.head_dim, s.scale,
                              scores, lds, scratch.data());
        heads::weighted_sum(scores, lds, o.v, s.ld, s.queries, s.tokens, s.head_dim, o_out, c);
      } else {
        sgemm(kRowMajor, kNoTrans, kTrans, nq, t, dh, s.scale, o.q, s.ld, o.k, s.ld, 0.0f, scores,
              static_cast<int>(lds));
        for (int64_t r = 0; r < s.queries; ++r) {
          std::fill(scores + r * lds + s.tokens, scores + (r + 1) * lds,
                    -std::numeric_limits<float>::infinity());
        }
        rows::softmax(scores, s.queries, lds, lds);
        sgemm(kRowMajor, kNoTrans, kNoTrans, nq, dh, t, 1.0f, scores, static_cast<int>(lds), o.v,
              s.ld, 0.0f, o_out, c);
      }
    }
  });
}

/// d(qkv) [B, T, 3C] (contiguous) from the output's gradient [B, Q, C] (contiguous) and the
/// forward's probs [B, H, Q, scores_ld] (0 in the padding columns); the queries of tokens from
/// Q on get 0. The four products by model/head_products.h's kernels where they apply, else by
/// the BLAS.
void backward_kernel(const at::Tensor& qkv, const at::Tensor& probs, const at::Tensor& grad,
                     const Shape& s, float* dqkv) {
  const float* base = qkv.data_ptr<float>();
  const float* p_all = probs.data_ptr<float>();
  const float* g_all = grad.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  const int t = static_cast<int>(s.tokens);
  const int dh = static_cast<int>(s.head_dim);
  const int c = static_cast<int>(s.dim);
  const int nq = static_cast<int>(s.queries);
  const int ld_out = 3 * c;
  const int64_t lds = scores_ld(s);
  const int ldp = static_cast<int>(lds);
  const bool own = heads::applies(s.head_dim);
  parallel_pieces(s.batch * s.heads, piece_of(s), [&](int64_t begin, int64_t end) {
    // Its padding columns start at 0 and stay 0 (the softmax backward's p is 0 there), so the
    // softmax backward runs over whole vectors too.
    std::vector<float> dscores(s.queries * lds, 0.0f);
    std::vector<float> scratch(own ? heads::scratch_floats(s.tokens, s.head_dim) : 0);
    for (int64_t i = begin; i < end; ++i) {
      const HeadOperands o(base, s, i);
      const float* p = p_all + i * s.queries * lds;
      const float* g = g_all + o.b * s.queries * s.dim + o.h * s.head_dim;
      float* dq = dqkv + o.b * s.tokens * 3 * s.dim + o.h * s.head_dim;
      float* dk = dq + s.dim;
      float* dv = dq + 2 * s.dim;
      float* ds = dscores.data();
      // dP = dO v^T; dS = scale * P (dP - rowsum(dP P)); dq = dS k; dk = dS^T q; dv = P^T dO.
      for (int64_t r = s.queries; r < s.tokens; ++r) {
        std::fill(dq + r * ld_out, dq + r * ld_out + s.head_dim, 0.0f);
      }
      if (own) {
        heads::products(g, c, o.v, s.ld, s.queries, s.tokens, s.head_dim, ds, lds, scratch.data());
      } else {
        sgemm(kRowMajor, kNoTrans, kTrans, nq, t, dh, 1.0f, g, c, o.v, s.ld, 0.0f, ds, ldp);
      }
      rows::softmax_backward(p, ds, s.queries, lds, lds, s.scale);
      if (own) {
        heads::weighted_sum(ds, lds, o.k, s.ld, s.queries, s.tokens, s.head_dim, dq, ld_out);
        heads::transposed_weighted_sum(ds, lds, o.q, s.ld, s.queries, s.tokens, s.head_dim, dk,
                                       ld_out);
        heads::transposed_weighted_sum(p, lds, g, c, s.queries, s.tokens, s.head_dim, dv, ld_out);
      } else {
        sgemm(kRowMajor, kNoTrans, kNoTrans, nq, dh, t, 1.0f, ds, ldp, o.k, s.ld, 0.0f, dq,
              ld_out);
        sgemm(kRowMajor, kTrans, kNoTrans, t, dh, nq, 1.0f, ds, ldp, o.q, s.ld, 0.0f, dk, ld_out);
        sgemm(kRowMajor, kTrans, kNoTrans, t, dh, nq, 1.0f, p, ldp, g, c, 0.0f, dv, ld_out);
      }
    }
  });
}

struct CpuAttentionFunction : torch::autograd::Function<CpuAttentionFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& qkv,
                            int64_t heads, int64_t queries) {
    const Shape s = shape_of(qkv, heads, queries);
    at::Tensor out = at::empty({s.batch, s.queries, s.dim}, qkv.options());
    at::Tensor probs = at::empty({s.batch, s.heads, s.queries, scores_ld(s)}, qkv.options());
    forward_kernel(qkv, s, out.data_ptr<float>(), probs.data_ptr<float>());
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["queries"] = queries;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "moedil's CPU attention kernel has no double backward (create_graph); build the "
                "model's attention with SelfAttentionOptions::fused(false) for that");
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const Shape s = shape_of(qkv, ctx->saved_data["heads"].toInt(),
                             ctx->saved_data["queries"].toInt());
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const at::Tensor grad = grads[0].contiguous();
    at::Tensor dqkv = at::empty({s.batch, s.tokens, 3 * s.dim}, qkv.options());
    backward_kernel(qkv, probs, grad, s, dqkv.data_ptr<float>());
    return {dqkv, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

bool cpu_attention_applies(const at::Tensor& qkv, int64_t heads) {
  if (cblas::sgemm() == nullptr || !qkv.defined() || qkv.dim() != 3) return false;
  if (!qkv.device().is_cpu() || qkv.scalar_type() != at::kFloat) return false;
  if (qkv.layout() != at::kStrided || qkv.stride(2) != 1) return false;
  if (heads <= 0 || qkv.size(2) % 3 != 0 || (qkv.size(2) / 3) % heads != 0) return false;
  if (qkv.size(0) == 0 || qkv.size(1) == 0 || qkv.size(2) == 0) return false;
  // CBLAS takes int sizes and leading dimensions; rows must not overlap.
  constexpr int64_t kMaxInt = 0x7fffffff;
  return qkv.stride(1) >= qkv.size(2) && qkv.stride(1) <= kMaxInt && qkv.size(1) <= kMaxInt &&
         qkv.stride(0) >= qkv.size(1) * qkv.stride(1);
}

at::Tensor cpu_attention(const at::Tensor& qkv, int64_t heads, int64_t queries) {
  TORCH_CHECK(cpu_attention_applies(qkv, heads),
              "cpu_attention: wants float32 CPU qkv [B, T, 3C] with C divisible by heads (",
              heads, ") and a cblas_sgemm in the process; got ", qkv.sizes(), " ",
              qkv.scalar_type());
  if (queries < 0) queries = qkv.size(1);
  TORCH_CHECK(queries >= 1 && queries <= qkv.size(1), "cpu_attention: queries ", queries,
              " outside 1..", qkv.size(1), " (the tokens)");
  if (at::GradMode::is_enabled() && qkv.requires_grad()) {
    return CpuAttentionFunction::apply(qkv, heads, queries);
  }
  const Shape s = shape_of(qkv, heads, queries);
  at::Tensor out = at::empty({s.batch, s.queries, s.dim}, qkv.options());
  forward_kernel(qkv, s, out.data_ptr<float>(), nullptr);
  return out;
}

}  // namespace moedil::model
