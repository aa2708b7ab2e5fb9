#include "moedil/model/moe/router.h"

#include <limits>

#include <c10/util/Exception.h>

namespace moedil::model::moe {

RouterImpl::RouterImpl(const RouterOptions& options_) : options(options_) { reset(); }

void RouterImpl::reset() {
  TORCH_CHECK(options.num_experts() > 0, "Router: num_experts must be > 0");
  TORCH_CHECK(options.top_k() >= 1 && options.top_k() <= options.num_experts(),
              "Router: top_k ", options.top_k(), " must be in [1, num_experts ",
              options.num_experts(), "]");
  TORCH_CHECK(options.noise_std() >= 0.0, "Router: noise_std ", options.noise_std(),
              " must be >= 0");
  TORCH_CHECK(options.expert_dropout() >= 0.0 && options.expert_dropout() < 1.0,
              "Router: expert_dropout ", options.expert_dropout(), " must be in [0, 1)");
  gate = register_module("gate", torch::nn::Linear(options.dim(), options.num_experts()));
}

at::Tensor RouterImpl::draw_available() const {
  const int64_t experts = options.num_experts();
  const auto device = gate->weight.device();
  if (options.expert_dropout() <= 0.0) {
    return at::ones({experts}, at::TensorOptions().dtype(at::kBool).device(device));
  }
  const at::Tensor draw =
      at::rand({experts}, at::TensorOptions().dtype(at::kDouble).device(device));
  at::Tensor available = draw.ge(options.expert_dropout());
  // The top_k largest draws always stay available, so each row still has k experts.
  const at::Tensor keep = std::get<1>(draw.topk(options.top_k()));
  return available.index_fill(0, keep, true);
}

Routing RouterImpl::forward(const at::Tensor& rows) {
  Routing r;
  r.logits = gate(rows);
  at::Tensor logits = r.logits;
  if (is_training() && options.noise_std() > 0.0) {
    logits = logits + at::randn_like(logits) * options.noise_std();
  }
  if (is_training() && options.expert_dropout() > 0.0) {
    r.available = draw_available();
    logits = logits.masked_fill(r.available.logical_not(),
                                -std::numeric_limits<double>::infinity());
  } else {
    r.available = at::ones({options.num_experts()},
                           at::TensorOptions().dtype(at::kBool).device(logits.device()));
  }
  r.probs = at::softmax(logits, -1);
  auto [top_probs, top_idx] = r.probs.topk(options.top_k(), -1);
  r.expert_idx = top_idx;
  if (options.renormalize() && options.top_k() == 1) {
    r.gates = at::ones_like(top_probs);  // p / p, exactly and without gradient
  } else {
    r.gates = options.top_k() > 1 || options.renormalize()
                  ? top_probs / top_probs.sum(-1, /*keepdim=*/true)
                  : top_probs;
  }
  return r;
}

}  // namespace moedil::model::moe
