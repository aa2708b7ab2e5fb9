#include "moedil/model/linear.h"

#include <ATen/Functions.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "moedil/model/cblas.h"
#include "moedil/model/parallel_pieces.h"

namespace moedil::model {

namespace {

using cblas::kNoTrans;
using cblas::kRowMajor;
using cblas::kTrans;

bool fits_int(int64_t v) { return v <= std::numeric_limits<int>::max(); }

/// Row blocks of the forward product and of d(x): small enough that a block of the output
/// (256 x out floats) stays in the core's cache between the bias copy and the product.
int64_t row_blocks(int64_t rows) { return (rows + kLinearRowBlock - 1) / kLinearRowBlock; }

/// [rows, out] = x [rows, in] W^T + b, each block of rows one sgemm on one thread.
void forward_into(const float* x, const float* w, const float* b, float* y, int64_t rows,
                  int64_t in, int64_t out) {
  const cblas::Sgemm sgemm = cblas::sgemm();
  parallel_pieces(row_blocks(rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t r0 = blk * kLinearRowBlock;
      const int64_t n = std::min(kLinearRowBlock, rows - r0);
      float* yb = y + r0 * out;
      for (int64_t r = 0; r < n; ++r) std::copy(b, b + out, yb + r * out);
      sgemm(kRowMajor, kNoTrans, kTrans, static_cast<int>(n), static_cast<int>(out),
            static_cast<int>(in), 1.0f, x + r0 * in, static_cast<int>(in), w,
            static_cast<int>(in), 1.0f, yb, static_cast<int>(out));
    }
  });
}

at::Tensor forward_direct(const at::Tensor& x2d, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t rows = x2d.size(0);
  const int64_t in = x2d.size(1);
  const int64_t out = weight.size(0);
  at::Tensor y = at::empty({rows, out}, x2d.options());
  forward_into(x2d.data_ptr<float>(), weight.data_ptr<float>(), bias.data_ptr<float>(),
               y.data_ptr<float>(), rows, in, out);
  return y;
}

/// d(x) [rows, in] = g [rows, out] W [out, in], by row blocks.
at::Tensor grad_input(const at::Tensor& g, const at::Tensor& weight) {
  const int64_t rows = g.size(0);
  const int64_t out = g.size(1);
  const int64_t in = weight.size(1);
  at::Tensor gx = at::empty({rows, in}, g.options());
  const float* pg = g.data_ptr<float>();
  const float* pw = weight.data_ptr<float>();
  float* px = gx.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  parallel_pieces(row_blocks(rows), 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t r0 = blk * kLinearRowBlock;
      const int64_t n = std::min(kLinearRowBlock, rows - r0);
      sgemm(kRowMajor, kNoTrans, kNoTrans, static_cast<int>(n), static_cast<int>(in),
            static_cast<int>(out), 1.0f, pg + r0 * out, static_cast<int>(out), pw,
            static_cast<int>(in), 0.0f, px + r0 * in, static_cast<int>(in));
    }
  });
  return gx;
}

/// d(W) [out, in] = g^T x and d(b) [out] = the column sums of g. The rows (the products' long
/// inner dimension) are cut into linear_weight_grad_parts(rows) parts, one sgemm each on any
/// thread, whose partial sums are then added in part order: the same bits on any thread count.
std::pair<at::Tensor, at::Tensor> grad_weight_bias(const at::Tensor& g, const at::Tensor& x2d,
                                                   bool want_weight, bool want_bias) {
  const int64_t rows = g.size(0);
  const int64_t out = g.size(1);
  const int64_t in = x2d.size(1);
  const int64_t parts = linear_weight_grad_parts(rows);
  const int64_t chunk = (rows + parts - 1) / parts;
  at::Tensor pw = want_weight ? at::empty({parts, out, in}, g.options()) : at::Tensor();
  at::Tensor pb = want_bias ? at::empty({parts, out}, g.options()) : at::Tensor();
  const float* pg = g.data_ptr<float>();
  const float* px = x2d.data_ptr<float>();
  const cblas::Sgemm sgemm = cblas::sgemm();
  parallel_pieces(parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t r0 = p * chunk;
      const int64_t n = std::max<int64_t>(0, std::min(chunk, rows - r0));
      if (want_weight) {
        float* dst = pw.data_ptr<float>() + p * out * in;
        if (n == 0) {
          std::fill(dst, dst + out * in, 0.0f);
        } else {
          sgemm(kRowMajor, kTrans, kNoTrans, static_cast<int>(out), static_cast<int>(in),
                static_cast<int>(n), 1.0f, pg + r0 * out, static_cast<int>(out), px + r0 * in,
                static_cast<int>(in), 0.0f, dst, static_cast<int>(in));
        }
      }
      if (want_bias) {
        float* dst = pb.data_ptr<float>() + p * out;
        std::fill(dst, dst + out, 0.0f);
        for (int64_t r = r0; r < r0 + n; ++r) {
          const float* row = pg + r * out;
          for (int64_t j = 0; j < out; ++j) dst[j] += row[j];
        }
      }
    }
  });
  const auto add_parts = [parts](const at::Tensor& partial) {
    if (parts == 1) return partial[0];
    const int64_t size = partial.numel() / parts;
    at::Tensor total = at::empty({size}, partial.options());
    const float* src = partial.data_ptr<float>();
    float* dst = total.data_ptr<float>();
    parallel_pieces(size, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        float s = src[i];
        for (int64_t p = 1; p < parts; ++p) s += src[p * size + i];
        dst[i] = s;
      }
    });
    return total;
  };
  at::Tensor gw = want_weight ? add_parts(pw).view({out, in}) : at::Tensor();
  at::Tensor gb = want_bias ? add_parts(pb).view({out}) : at::Tensor();
  return {gw, gb};
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
    const at::Tensor g = grads[0].contiguous();
    at::Tensor gx = want_x ? grad_input(g, weight) : at::Tensor();
    auto [gw, gb] = (want_w || want_b) ? grad_weight_bias(g, x2d, want_w, want_b)
                                       : std::pair<at::Tensor, at::Tensor>{};
    return {gx, gw, gb};
  }
};

bool float_cpu_contiguous(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.is_contiguous();
}

}  // namespace

int64_t linear_weight_grad_parts(int64_t rows) {
  return std::clamp<int64_t>(rows / kLinearMinRowsPerPart, 1, kLinearMaxParts);
}

bool direct_linear_applies(const torch::nn::LinearImpl& layer, const at::Tensor& x) {
  const at::Tensor& weight = layer.weight;
  const at::Tensor& bias = layer.bias;
  if (cblas::sgemm() == nullptr || x.dim() < 2 || x.numel() == 0) return false;
  if (!float_cpu_contiguous(x) || !float_cpu_contiguous(weight) || !float_cpu_contiguous(bias)) {
    return false;
  }
  if (at::autocast::is_cpu_enabled()) return false;
  const int64_t in = x.size(-1);
  const int64_t out = weight.size(0);
  return in > 0 && weight.size(1) == in && bias.numel() == out &&
         in * out <= kLinearMaxDirectWeights && fits_int(in) &&
         fits_int(out) && fits_int(x.numel() / in);
}

at::Tensor apply_linear(torch::nn::LinearImpl& layer, const at::Tensor& x) {
  const at::Tensor& bias = layer.bias;
  const int64_t in = x.size(-1);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = layer.weight.size(0);
  if (direct_linear_applies(layer, x)) {
    const at::Tensor x2d = x.view({-1, in});
    const bool track = torch::autograd::GradMode::is_enabled() &&
                       (x.requires_grad() || layer.weight.requires_grad() || bias.requires_grad());
    const at::Tensor y = track ? DirectLinearFunction::apply(x2d, layer.weight, bias)
                               : forward_direct(x2d, layer.weight, bias);
    return y.view(shape);
  }
  if (x.dim() <= 2 || !bias.defined() || !x.is_contiguous() || x.numel() == 0) {
    return layer.forward(x);
  }
  return at::addmm(bias, x.view({-1, in}), layer.weight.t()).view(shape);
}

}  // namespace moedil::model
