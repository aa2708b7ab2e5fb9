#include "moedil/model/layer_norm.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

#include "moedil/model/cpu_autocast.h"
#include "moedil/model/float_cpu.h"
#include "moedil/model/parallel_pieces.h"
#include "moedil/model/part_sums.h"
#include "moedil/model/row_kernels.h"

namespace moedil::model {

namespace {

/// Rows per piece: a row of 64 floats takes ~30 ns, so pieces of ~8 us at least.
constexpr int64_t kRowsPerPiece = 256;

/// The backward's d(weight) and d(bias) are summed in one part per this many rows, at most
/// kMaxParts (the d(x) rows go with them).
constexpr int64_t kRowsPerPart = 512;
constexpr int64_t kMaxParts = 8;

/// out = layer norm of x's rows; mean and rstd (one float per row) when given.
void normalise(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps,
               float* out, float* mean, float* rstd) {
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  const float* in = x.data_ptr<float>();
  const float* w = weight.data_ptr<float>();
  const float* b = bias.data_ptr<float>();
  const auto e = static_cast<float>(eps);
  parallel_pieces(rows, kRowsPerPiece, [&](int64_t begin, int64_t end) {
    rows::layer_norm(in + begin * n, out + begin * n, w, b, e,
                     mean != nullptr ? mean + begin : nullptr,
                     rstd != nullptr ? rstd + begin : nullptr, end - begin, n);
  });
}

/// ATen's shape for the statistics: x's leading dims, then 1.
std::vector<int64_t> stat_shape(const at::Tensor& x) {
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = 1;
  return shape;
}

struct LayerNormFunction : torch::autograd::Function<LayerNormFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& weight, const at::Tensor& bias, double eps) {
    at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
    at::Tensor mean = at::empty(stat_shape(x), x.options());
    at::Tensor rstd = at::empty(stat_shape(x), x.options());
    normalise(x, weight, bias, eps, out.data_ptr<float>(), mean.data_ptr<float>(),
              rstd.data_ptr<float>());
    ctx->save_for_backward({x, weight, bias, mean, rstd});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "moedil's CPU layer norm has no double backward (create_graph)");
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& bias = saved[2];
    const at::Tensor g = grads[0].contiguous();
    const int64_t n = x.size(-1);
    const int64_t rows = x.numel() / n;
    const bool want_x = ctx->needs_input_grad(0);
    const bool want_w = ctx->needs_input_grad(1);
    const bool want_b = ctx->needs_input_grad(2);
    // Fixed parts of the rows (model/part_sums.h), each with its own partial d(weight) and
    // d(bias): the same bits on any thread count.
    const int64_t parts = row_parts(rows, kRowsPerPart, kMaxParts);
    const int64_t chunk = (rows + parts - 1) / parts;
    at::Tensor dx = want_x ? at::empty_like(x, at::MemoryFormat::Contiguous) : at::Tensor();
    at::Tensor pw = want_w ? at::zeros({parts, n}, x.options()) : at::Tensor();
    at::Tensor pb = want_b ? at::zeros({parts, n}, x.options()) : at::Tensor();
    const float* px = x.data_ptr<float>();
    const float* pg = g.data_ptr<float>();
    const float* pmean = saved[3].data_ptr<float>();
    const float* prstd = saved[4].data_ptr<float>();
    const float* pweight = weight.data_ptr<float>();
    parallel_pieces(parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t r0 = p * chunk;
        const int64_t count = std::max<int64_t>(0, std::min(chunk, rows - r0));
        rows::layer_norm_backward(px + r0 * n, pg + r0 * n, pmean + r0, prstd + r0, pweight,
                                  want_x ? dx.data_ptr<float>() + r0 * n : nullptr,
                                  want_w ? pw.data_ptr<float>() + p * n : nullptr,
                                  want_b ? pb.data_ptr<float>() + p * n : nullptr, count, n);
      }
    });
    const at::Tensor dw = want_w ? add_parts(pw).view(weight.sizes()) : at::Tensor();
    const at::Tensor db = want_b ? add_parts(pb).view(bias.sizes()) : at::Tensor();
    return {dx, dw, db, at::Tensor()};
  }
};

}  // namespace

bool direct_layer_norm_applies(const torch::nn::LayerNormImpl& layer, const at::Tensor& x) {
  if (!float_cpu_contiguous(x) || x.dim() < 1 || x.numel() == 0) return false;
  const auto& shape = layer.options.normalized_shape();
  if (shape.size() != 1 || shape[0] != x.size(-1) || !layer.options.elementwise_affine()) {
    return false;
  }
  if (!float_cpu_contiguous(layer.weight) || !float_cpu_contiguous(layer.bias)) return false;
  if (layer.weight.numel() != shape[0] || layer.bias.numel() != shape[0]) return false;
  return !cpu_autocast_enabled();
}

at::Tensor apply_layer_norm(torch::nn::LayerNormImpl& layer, const at::Tensor& x) {
  if (!direct_layer_norm_applies(layer, x)) return layer.forward(x);
  const double eps = layer.options.eps();
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || layer.weight.requires_grad() || layer.bias.requires_grad())) {
    return LayerNormFunction::apply(x, layer.weight, layer.bias, eps);
  }
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  normalise(x, layer.weight, layer.bias, eps, out.data_ptr<float>(), nullptr, nullptr);
  return out;
}

}  // namespace moedil::model
