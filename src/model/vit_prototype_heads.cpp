#include "moedil/model/vit_prototype_heads.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/model/moe/centroid_router.h"
#include "moedil/model/transformer_block.h"

namespace moedil::model {

ViTPrototypeHeadsImpl::ViTPrototypeHeadsImpl(const ViTPrototypeHeadsOptions& options_)
    : options(options_),
      mixture(moe::MixtureOptions(options_.num_experts())
                  .top_k(options_.head_mixing() == "weighted" ? options_.num_experts() : 1)
                  .balance_losses({})
                  .unit_forced_gate(true)) {
  const ViTBackboneOptions& backbone = options.backbone();
  const InputShape& in = backbone.input();
  TORCH_CHECK(options.num_experts() >= 1, "ViTPrototypeHeads: num_experts ",
              options.num_experts(), " must be >= 1");
  TORCH_CHECK(options.ema_alpha() >= 0.0 && options.ema_alpha() <= 1.0,
              "ViTPrototypeHeads: ema_alpha (keep rate) ", options.ema_alpha(),
              " must be in [0, 1]");
  TORCH_CHECK(options.router_temperature() > 0.0, "ViTPrototypeHeads: router_temperature ",
              options.router_temperature(), " must be > 0");
  TORCH_CHECK(options.head_mixing() == "selected" || options.head_mixing() == "weighted",
              "ViTPrototypeHeads: head_mixing '", options.head_mixing(),
              "' must be \"selected\" or \"weighted\"");
  TORCH_CHECK(backbone.cls_token(), "ViTPrototypeHeads: the model needs its CLS token");
  const int64_t dim = backbone.embed_dim();
  stem = register_patch_stem(*this, in, backbone.patch_size(), dim, "ViTPrototypeHeads");
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < backbone.depth(); ++i) {
    blocks->push_back(
        TransformerBlock(TransformerBlockOptions(dim, backbone.num_heads(), backbone.hidden())
                             .dropout(backbone.dropout())
                             .layer_norm_eps(backbone.layer_norm_eps())));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(
                                     backbone.layer_norm_eps())));
  heads = register_module("heads", torch::nn::ModuleList());
  for (int64_t e = 0; e < options.num_experts(); ++e) {
    heads->push_back(torch::nn::Linear(dim, in.num_classes));
  }
  prototypes =
      register_buffer("prototypes", moe::unit_rows(at::randn({options.num_experts(), dim})));
  // Routing is by the prototype buffers: no router parameters.
  register_moe_layer(MoeLayerRef{"heads", &mixture, nullptr, heads, nullptr});
}

at::Tensor ViTPrototypeHeadsImpl::feature(const at::Tensor& images) {
  at::Tensor x = stem.embed(images);  // [B, 1 + N, D]
  for (const auto& block : *blocks) x = block->as<TransformerBlock>()->forward(x);
  return moe::unit_rows(norm(x).select(1, 0));
}

moe::Routing ViTPrototypeHeadsImpl::route(const at::Tensor& f) const {
  const bool weighted = options.head_mixing() == "weighted";
  const at::Tensor p = moe::unit_rows(prototypes.detach().clone());
  moe::Routing r;
  // "selected" routes by the argmax alone: nothing to differentiate.
  r.logits = at::matmul(weighted ? f : f.detach(), p.t());  // [B, E]
  r.probs = at::softmax(r.logits / options.router_temperature(), 1);
  if (weighted) {
    const auto sorted = r.probs.sort(1, /*descending=*/true);
    r.gates = std::get<0>(sorted);       // [B, E]
    r.expert_idx = std::get<1>(sorted);  // [B, E]
  } else {
    r.expert_idx = r.logits.argmax(1, /*keepdim=*/true);  // [B, 1]
    r.gates = at::ones({f.size(0), 1}, f.options());
  }
  r.available = at::ones({options.num_experts()}, f.options().dtype(at::kBool));
  return r;
}

at::Tensor ViTPrototypeHeadsImpl::forward(const at::Tensor& images) {
  const at::Tensor f = feature(images);  // [B, D]
  const moe::Routing routing = route(f);
  const moe::ExpertFn head = [this](int64_t e, const at::Tensor& rows) {
    return heads[static_cast<std::size_t>(e)]->as<torch::nn::Linear>()->forward(rows);
  };
  at::Tensor out = mixture.forward(routing, f, head, is_training());
  if (is_training() && options.ema_alpha() < 1.0 && !routing_frozen) {
    torch::NoGradGuard no_grad;
    const at::Tensor chosen = routing.expert_idx.select(1, 0);  // the nearest prototype
    const at::Tensor before = prototypes.clone();
    moe::ema_update_toward_means(prototypes, f, chosen, options.ema_alpha());
    // Back to unit length, the moved rows only (the others are unit already).
    const at::Tensor moved = prototypes.ne(before).any(1);
    prototypes.copy_(at::where(moved.unsqueeze(1), moe::unit_rows(prototypes), prototypes));
  }
  return out;
}

}  // namespace moedil::model
