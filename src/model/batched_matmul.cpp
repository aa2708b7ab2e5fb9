#include "moedil/model/batched_matmul.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <vector>

#include "moedil/model/cblas.h"
#include "moedil/model/parallel_pieces.h"

namespace moedil::model {

namespace {

using cblas::kNoTrans;
using cblas::kRowMajor;
using cblas::kTrans;

/// How a [rows, cols] matrix with these strides is handed to CBLAS (row-major): unit column
/// stride -> as it is, unit row stride -> transposed; false when neither fits.
bool blas_layout(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride, int& trans,
                 int& ld) {
  if (col_stride == 1 && row_stride >= std::max<int64_t>(1, cols)) {
    trans = kNoTrans;
    ld = static_cast<int>(row_stride);
    return true;
  }
  if (row_stride == 1 && col_stride >= std::max<int64_t>(1, rows)) {
    trans = kTrans;
    ld = static_cast<int>(col_stride);
    return true;
  }
  if (rows == 1 && cols == 1) {  // a single element: its strides do not matter
    trans = kNoTrans;
    ld = 1;
    return true;
  }
  if (rows == 1 && col_stride == 1) {  // a single row: any row stride will do
    trans = kNoTrans;
    ld = static_cast<int>(std::max<int64_t>(1, cols));
    return true;
  }
  if (cols == 1 && row_stride == 1) {
    trans = kTrans;
    ld = static_cast<int>(std::max<int64_t>(1, rows));
    return true;
  }
  return false;
}

/// The operand as the product reads it: itself when its matrices fit CBLAS, else a copy.
at::Tensor blas_ready(const at::Tensor& t) {
  int trans = 0;
  int ld = 0;
  const int64_t d = t.dim();
  return blas_layout(t.size(d - 2), t.size(d - 1), t.stride(d - 2), t.stride(d - 1), trans, ld)
             ? t
             : t.contiguous();
}

/// Element offset of matrix `index` (row-major over the leading dims) of `t`.
int64_t batch_offset(const at::Tensor& t, int64_t index) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 3; d >= 0; --d) {
    const int64_t size = t.size(d);
    offset += (index % size) * t.stride(d);
    index /= size;
  }
  return offset;
}

/// a @ b for float32 CPU operands with equal leading dims: a fresh contiguous [..., m, n].
at::Tensor direct_product(const at::Tensor& a_in, const at::Tensor& b_in) {
  const at::Tensor a = blas_ready(a_in);
  const at::Tensor b = blas_ready(b_in);
  const int64_t d = a.dim();
  const int64_t m = a.size(d - 2);
  const int64_t k = a.size(d - 1);
  const int64_t n = b.size(d - 1);
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
  shape.back() = n;
  at::Tensor c = at::empty(shape, a.options());
  const int64_t batch = m * n == 0 ? 0 : c.numel() / (m * n);
  if (batch == 0) return c;
  if (k == 0) return c.zero_();
  int ta = 0, lda = 0, tb = 0, ldb = 0;
  const bool a_fits = blas_layout(m, k, a.stride(d - 2), a.stride(d - 1), ta, lda);
  const bool b_fits = blas_layout(k, n, b.stride(d - 2), b.stride(d - 1), tb, ldb);
  TORCH_INTERNAL_ASSERT(a_fits && b_fits, "batched_matmul: an operand CBLAS cannot read");
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  // At least ~64k multiply-adds per task, so tiny batches stay on one thread.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, m * n * k));
  parallel_pieces(batch, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      sgemm(kRowMajor, ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
            1.0f, pa + batch_offset(a, i), lda, pb + batch_offset(b, i), ldb, 0.0f,
            pc + i * m * n, static_cast<int>(n));
    }
  });
  return c;
}

struct BatchedMatmulFunction : torch::autograd::Function<BatchedMatmulFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a,
                            const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return direct_product(a, b);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const at::Tensor& g = grads[0];
    at::Tensor grad_a;
    at::Tensor grad_b;
    // Through batched_matmul, so that with create_graph (grad mode on) the gradients are
    // differentiable again; otherwise it is the direct product.
    if (ctx->needs_input_grad(0)) grad_a = batched_matmul(g, b.transpose(-2, -1));
    if (ctx->needs_input_grad(1)) grad_b = batched_matmul(a.transpose(-2, -1), g);
    return {grad_a, grad_b};
  }
};

}  // namespace

bool direct_sgemm_available() { return cblas::sgemm() != nullptr; }

bool direct_sgemm_applies(const at::Tensor& a, const at::Tensor& b) {
  if (!direct_sgemm_available() || a.dim() < 3 || a.dim() != b.dim()) return false;
  if (!a.device().is_cpu() || !b.device().is_cpu()) return false;
  if (a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat) return false;
  if (a.layout() != at::kStrided || b.layout() != at::kStrided) return false;
  const int64_t d = a.dim();
  if (a.size(d - 1) != b.size(d - 2)) return false;
  for (int64_t i = 0; i < d - 2; ++i) {
    if (a.size(i) != b.size(i)) return false;
  }
  // CBLAS takes int sizes and leading dimensions.
  constexpr int64_t kMaxInt = 0x7fffffff;
  for (const at::Tensor* t : {&a, &b}) {
    for (int64_t i = d - 2; i < d; ++i) {
      if (t->size(i) > kMaxInt || t->stride(i) > kMaxInt) return false;
    }
  }
  return true;
}

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!direct_sgemm_applies(a, b)) return at::matmul(a, b);
  if (at::GradMode::is_enabled() && (a.requires_grad() || b.requires_grad())) {
    return BatchedMatmulFunction::apply(a, b);
  }
  return direct_product(a, b);
}

}  // namespace moedil::model
