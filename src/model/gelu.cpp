#include "moedil/model/gelu.h"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/model/cpu_autocast.h"
#include "moedil/model/float_cpu.h"
#include "moedil/model/parallel_pieces.h"
#include "moedil/model/row_kernels.h"

namespace moedil::model {

namespace {

at::Tensor gelu_direct(const at::Tensor& x) {
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float* in = x.data_ptr<float>();
  float* out = y.data_ptr<float>();
  parallel_pieces(x.numel(), kGeluPiece, [&](int64_t begin, int64_t end) {
    rows::gelu(in + begin, out + begin, end - begin);
  });
  return y;
}

struct GeluFunction : torch::autograd::Function<GeluFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    ctx->save_for_backward({x});
    return gelu_direct(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor& g = grads[0];
    if (!g.defined()) return {at::Tensor()};
    const at::Tensor x = ctx->get_saved_variables()[0];
    // create_graph: LibTorch's backward, which is differentiable.
    if (torch::autograd::GradMode::is_enabled()) return {at::gelu_backward(g, x)};
    const at::Tensor gc = g.contiguous();
    if (!float_cpu_contiguous(gc)) return {at::gelu_backward(gc, x)};
    at::Tensor dx = at::empty_like(x, at::MemoryFormat::Contiguous);
    const float* px = x.data_ptr<float>();
    const float* pg = gc.data_ptr<float>();
    float* pdx = dx.data_ptr<float>();
    parallel_pieces(x.numel(), kGeluPiece, [&](int64_t begin, int64_t end) {
      rows::gelu_backward(px + begin, pg + begin, pdx + begin, end - begin);
    });
    return {dx};
  }
};

}  // namespace

bool direct_gelu_applies(const at::Tensor& x) {
  return float_cpu_contiguous(x) && x.numel() > 0 && !cpu_autocast_enabled();
}

at::Tensor apply_gelu(const at::Tensor& x) {
  if (!direct_gelu_applies(x)) return at::gelu(x);
  if (torch::autograd::GradMode::is_enabled() && x.requires_grad()) {
    return GeluFunction::apply(x);
  }
  return gelu_direct(x);
}

}  // namespace moedil::model
