#include "moedil/model/linear.h"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <vector>

#include "moedil/model/cblas.h"
#include "moedil/model/cpu_autocast.h"
#include "moedil/model/float_cpu.h"
#include "moedil/model/gelu.h"
#include "moedil/model/linear_kernel.h"
#include "moedil/model/parallel_pieces.h"
#include "moedil/model/part_sums.h"
#include "moedil/model/row_kernels.h"

namespace moedil::model {

namespace {

using cblas::kNoTrans;
using cblas::kRowMajor;
using cblas::kTrans;

bool fits_int(int64_t v) { return v <= std::numeric_limits<int>::max(); }

/// Row blocks of the forward product and of d(x): small enough that a block of the output
/// (256 x out floats) stays in the core's cache between the bias copy and the product.
int64_t row_blocks(int64_t rows) { return (rows + kLinearRowBlock - 1) / kLinearRowBlock; }

/// Whether layer(x) must record a graph: grad mode on and x or a parameter wanting a gradient.
bool wants_grad(const torch::nn::LinearImpl& layer, const at::Tensor& x) {
  return torch::autograd::GradMode::is_enabled() &&
         (x.requires_grad() || layer.weight.requires_grad() || layer.bias.requires_grad());
}

/// x's shape with its last size `out`.
std::vector<int64_t> output_shape(const at::Tensor& x, int64_t out) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = out;
  return shape;
}

/// Rows [rows, out] added to a product as it is stored (moedil's kernel only).
struct Residual {
  const float* data = nullptr;
  int64_t ld = 0;
};

/// [rows, out] (rows ldy apart) = x [rows, in] W^T + b, each block of rows one product on one
/// thread (moedil's kernel where linear_kernel::applies, else one sgemm); with `gelu`, GELU of
/// it, each block in place right after its product, while it is in cache (rows::gelu, as
/// apply_gelu's); with a residual (the kernel's callers only), plus the residual.
void forward_into(const float* x, const float* w, const float* b, float* y, int64_t ldy,
                  int64_t rows, int64_t in, int64_t out, bool gelu, Residual residual = {}) {
  const auto gelu_block = [&](float* yb, int64_t n) {
    if (ldy == out) return rows::gelu(yb, yb, n * out);
    for (int64_t r = 0; r < n; ++r) rows::gelu(yb + r * ldy, yb + r * ldy, out);
  };
  const rows::Kernel kernel = rows::best_kernel();
  if (linear_kernel::applies(in, out, kernel)) {
    // W packed once for all the blocks; no bias copy (the kernel adds it).
    std::vector<float> packed(static_cast<std::size_t>(linear_kernel::packed_floats(in, out)));
    linear_kernel::pack(w, in, out, packed.data());
    parallel_pieces(row_blocks(rows), 1, [&](int64_t begin, int64_t end) {
      for (int64_t blk = begin; blk < end; ++blk) {
        const int64_t r0 = blk * kLinearRowBlock;
        const int64_t n = std::min(kLinearRowBlock, rows - r0);
        linear_kernel::forward(
            x + r0 * in, in, n, in, packed.data(), b, out, y + r0 * ldy, ldy, kernel,
            residual.data != nullptr ? residual.data + r0 * residual.ld : nullptr, residual.ld);
        if (gelu) gelu_block(y + r0 * ldy, n);
      }
    });
    return;
  }
  if (residual.data != nullptr) {
    throw std::logic_error("linear forward_into: a residual needs moedil's kernel");
  }
  const cblas::Sgemm sgemm = cblas::sgemm();
  parallel_pieces(row_blocks(rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t r0 = blk * kLinearRowBlock;
      const int64_t n = std::min(kLinearRowBlock, rows - r0);
      float* yb = y + r0 * ldy;
      for (int64_t r = 0; r < n; ++r) std::copy(b, b + out, yb + r * ldy);
      sgemm(kRowMajor, kNoTrans, kTrans, static_cast<int>(n), static_cast<int>(out),
            static_cast<int>(in), 1.0f, x + r0 * in, static_cast<int>(in), w,
            static_cast<int>(in), 1.0f, yb, static_cast<int>(ldy));
      if (gelu) gelu_block(yb, n);
    }
  });
}

at::Tensor forward_direct(const at::Tensor& x2d, const at::Tensor& weight, const at::Tensor& bias,
                          bool gelu = false) {
  const int64_t rows = x2d.size(0);
  const int64_t in = x2d.size(1);
  const int64_t out = weight.size(0);
  at::Tensor y = at::empty({rows, out}, x2d.options());
  forward_into(x2d.data_ptr<float>(), weight.data_ptr<float>(), bias.data_ptr<float>(),
               y.data_ptr<float>(), out, rows, in, out, gelu);
  return y;
}

struct Grads {
  at::Tensor x, w, b;
};

/// The backward in one parallel region: d(x) [rows, in] = g W by row blocks, and d(W) [out, in]
/// = g^T x with d(b) [out] (the column sums of g) in linear_weight_grad_parts(rows) parts of
/// the rows (the products' long inner dimension), one sgemm each, whose partial sums are then
/// added in part order: the same bits on any thread count.
Grads backward_direct(const at::Tensor& g, const at::Tensor& x2d, const at::Tensor& weight,
                      bool want_x, bool want_w, bool want_b) {
  const int64_t rows = g.size(0);
  const int64_t out = g.size(1);
  const int64_t in = x2d.size(1);
  const int64_t parts = (want_w || want_b) ? linear_weight_grad_parts(rows) : 0;
  const int64_t chunk = parts > 0 ? (rows + parts - 1) / parts : 0;
  const int64_t blocks = want_x ? row_blocks(rows) : 0;
  Grads grads;
  if (want_x) grads.x = at::empty({rows, in}, g.options());
  at::Tensor pw = want_w ? at::empty({parts, out, in}, g.options()) : at::Tensor();
  at::Tensor pb = want_b ? at::empty({parts, out}, g.options()) : at::Tensor();
  const float* pg = g.data_ptr<float>();
  const float* px = x2d.data_ptr<float>();
  const float* pweight = weight.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  const auto part = [&](int64_t p) {
    const int64_t r0 = p * chunk;
    const int64_t n = std::max<int64_t>(0, std::min(chunk, rows - r0));
    if (want_w) {
      float* dst = pw.data_ptr<float>() + p * out * in;
      if (n == 0) {
        std::fill(dst, dst + out * in, 0.0f);
      } else {
        sgemm(kRowMajor, kTrans, kNoTrans, static_cast<int>(out), static_cast<int>(in),
              static_cast<int>(n), 1.0f, pg + r0 * out, static_cast<int>(out), px + r0 * in,
              static_cast<int>(in), 0.0f, dst, static_cast<int>(in));
      }
    }
    if (want_b) {
      float* dst = pb.data_ptr<float>() + p * out;
      std::fill(dst, dst + out, 0.0f);
      for (int64_t r = r0; r < r0 + n; ++r) {
        const float* row = pg + r * out;
        for (int64_t j = 0; j < out; ++j) dst[j] += row[j];
      }
    }
  };
  const auto block = [&](int64_t blk) {
    const int64_t r0 = blk * kLinearRowBlock;
    const int64_t n = std::min(kLinearRowBlock, rows - r0);
    sgemm(kRowMajor, kNoTrans, kNoTrans, static_cast<int>(n), static_cast<int>(in),
          static_cast<int>(out), 1.0f, pg + r0 * out, static_cast<int>(out), pweight,
          static_cast<int>(in), 0.0f, grads.x.data_ptr<float>() + r0 * in, static_cast<int>(in));
  };
  // The parts (larger) first, then the blocks, as the threads come for them.
  parallel_pieces(parts + blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      if (t < parts) {
        part(t);
      } else {
        block(t - parts);
      }
    }
  });
  if (want_w) grads.w = add_parts(pw).view({out, in});
  if (want_b) grads.b = add_parts(pb).view({out});
  return grads;
}

struct DirectLinearFunction : torch::autograd::Function<DirectLinearFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x2d,
                            const at::Tensor& weight, const at::Tensor& bias) {
    ctx->save_for_backward({x2d, weight});
    return forward_direct(x2d, weight, bias);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x2d = saved[0];
    const at::Tensor& weight = saved[1];
    const bool want_x = ctx->needs_input_grad(0);
    const bool want_w = ctx->needs_input_grad(1);
    const bool want_b = ctx->needs_input_grad(2);
    if (torch::autograd::GradMode::is_enabled()) {
      // create_graph: differentiable ATen products, so the gradients can be differentiated.
      const at::Tensor& g = grads[0];
      return {want_x ? g.mm(weight) : at::Tensor(), want_w ? g.t().mm(x2d) : at::Tensor(),
              want_b ? g.sum(0) : at::Tensor()};
    }
    const Grads g = backward_direct(grads[0].contiguous(), x2d, weight, want_x, want_w, want_b);
    return {g.x, g.w, g.b};
  }
};

}  // namespace

int64_t linear_weight_grad_parts(int64_t rows) {
  return row_parts(rows, kLinearMinRowsPerPart, kLinearMaxParts);
}

bool direct_linear_applies(const torch::nn::LinearImpl& layer, const at::Tensor& x) {
  const at::Tensor& weight = layer.weight;
  const at::Tensor& bias = layer.bias;
  if (cblas::sgemm() == nullptr || x.dim() < 2 || x.numel() == 0) return false;
  if (!float_cpu_contiguous(x) || !float_cpu_contiguous(weight) || !float_cpu_contiguous(bias)) {
    return false;
  }
  if (cpu_autocast_enabled()) return false;
  const int64_t in = x.size(-1);
  const int64_t out = weight.size(0);
  return in > 0 && weight.size(1) == in && bias.numel() == out &&
         in * out <= kLinearMaxDirectWeights && fits_int(in) && fits_int(out) &&
         fits_int(x.numel() / in);
}

at::Tensor apply_linear(torch::nn::LinearImpl& layer, const at::Tensor& x) {
  const bool direct = direct_linear_applies(layer, x);
  const at::Tensor& bias = layer.bias;
  if (!direct && (x.dim() <= 2 || !bias.defined() || !x.is_contiguous() || x.numel() == 0)) {
    return layer.forward(x);
  }
  const int64_t in = x.size(-1);
  const std::vector<int64_t> shape = output_shape(x, layer.weight.size(0));
  if (direct) {
    const at::Tensor x2d = x.view({-1, in});
    const at::Tensor y = wants_grad(layer, x) ? DirectLinearFunction::apply(x2d, layer.weight, bias)
                                              : forward_direct(x2d, layer.weight, bias);
    return y.view(shape);
  }
  return at::addmm(bias, x.view({-1, in}), layer.weight.t()).view(shape);
}

at::Tensor apply_linear_residual(torch::nn::LinearImpl& layer, const at::Tensor& x,
                                 const at::Tensor& residual) {
  const at::Tensor& bias = layer.bias;
  const bool track = wants_grad(layer, x) ||
                     (torch::autograd::GradMode::is_enabled() && residual.requires_grad());
  const int64_t in = x.dim() >= 2 ? x.size(-1) : 0;
  const int64_t out = layer.weight.size(0);
  const rows::Kernel kernel = rows::best_kernel();
  if (track || !direct_linear_applies(layer, x) || !linear_kernel::applies(in, out, kernel) ||
      residual.scalar_type() != at::kFloat || !residual.device().is_cpu() ||
      residual.dim() != x.dim() || residual.size(-1) != out ||
      residual.sizes().slice(0, x.dim() - 1) != x.sizes().slice(0, x.dim() - 1)) {
    return residual + apply_linear(layer, x);
  }
  const int64_t rows = x.numel() / in;
  // The residual's rows one stride apart (a view where its layout allows, else a copy).
  const at::Tensor r2 = residual.reshape({rows, out});
  if (r2.stride(1) != 1) return residual + apply_linear(layer, x);
  at::Tensor y = at::empty({rows, out}, x.options());
  forward_into(x.data_ptr<float>(), layer.weight.data_ptr<float>(), bias.data_ptr<float>(),
               y.data_ptr<float>(), out, rows, in, out, /*gelu=*/false,
               {r2.data_ptr<float>(), r2.stride(0)});
  return y.view(output_shape(x, out));
}

at::Tensor apply_linear_first_token(torch::nn::LinearImpl& layer, const at::Tensor& x,
                                    int64_t leading) {
  const int64_t out = layer.weight.size(0);
  const rows::Kernel kernel = rows::best_kernel();
  if (wants_grad(layer, x) || x.dim() != 3 || x.size(1) < 1 || !direct_linear_applies(layer, x) ||
      leading <= 0 || leading >= out) {
    return {};
  }
  const int64_t in = x.size(2);
  const int64_t batch = x.size(0);
  const int64_t tokens = x.size(1);
  if (!linear_kernel::applies(in, leading, kernel) ||
      !linear_kernel::applies(in, out - leading, kernel)) {
    return {};
  }
  at::Tensor y = at::empty({batch, tokens, out}, x.options());
  const float* w = layer.weight.data_ptr<float>();
  const float* b = layer.bias.data_ptr<float>();
  const float* px = x.data_ptr<float>();
  float* py = y.data_ptr<float>();
  // Outputs [leading, out) of every token (weight rows [leading, out)), into columns
  // [leading, out) of y's rows.
  forward_into(px, w + leading * in, b + leading, py + leading, out, batch * tokens, in,
               out - leading, /*gelu=*/false);
  // Outputs [0, leading) of token 0: one row per sequence, tokens * in floats apart.
  std::vector<float> first(static_cast<std::size_t>(linear_kernel::packed_floats(in, leading)));
  linear_kernel::pack(w, in, leading, first.data());
  linear_kernel::forward(px, tokens * in, batch, in, first.data(), b, leading, py, tokens * out,
                         kernel);
  return y;
}

at::Tensor apply_linear_gelu(torch::nn::LinearImpl& layer, const at::Tensor& x) {
  if (wants_grad(layer, x) || !direct_linear_applies(layer, x)) {
    return apply_gelu(apply_linear(layer, x));
  }
  return forward_direct(x.view({-1, x.size(-1)}), layer.weight, layer.bias, /*gelu=*/true)
      .view(output_shape(x, layer.weight.size(0)));
}

}  // namespace moedil::model
