#include "moedil/model/moe/router.h"

#include <c10/util/Exception.h>

namespace moedil::model::moe {

RouterImpl::RouterImpl(const RouterOptions& options_) : options(options_) { reset(); }

void RouterImpl::reset() {
  TORCH_CHECK(options.num_experts() > 0, "Router: num_experts must be > 0");
  TORCH_CHECK(options.top_k() >= 1 && options.top_k() <= options.num_experts(),
              "Router: top_k ", options.top_k(), " must be in [1, num_experts ",
              options.num_experts(), "]");
  gate = register_module("gate", torch::nn::Linear(options.dim(), options.num_experts()));
}

Routing RouterImpl::forward(const at::Tensor& rows) {
  Routing r;
  r.probs = at::softmax(gate(rows), -1);
  auto [top_probs, top_idx] = r.probs.topk(options.top_k(), -1);
  r.expert_idx = top_idx;
  r.gates = options.top_k() > 1 ? top_probs / top_probs.sum(-1, /*keepdim=*/true) : top_probs;
  return r;
}

}  // namespace moedil::model::moe
