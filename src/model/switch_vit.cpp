#include "moedil/model/switch_vit.h"

#include <algorithm>
#include <vector>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "moedil/model/moe/centroid_router.h"
#include "moedil/model/transformer_block.h"

namespace moedil::model {

SwitchExpertImpl::SwitchExpertImpl(const SwitchExpertOptions& options_) : options(options_) {
  TORCH_CHECK(options.depth() >= 1, "SwitchExpert: depth ", options.depth(), " must be >= 1");
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.depth(); ++i) {
    blocks->push_back(TransformerBlock(
        TransformerBlockOptions(options.dim(), options.num_heads(), options.hidden())
            .dropout(options.dropout())
            .layer_norm_eps(options.layer_norm_eps())));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.dim()})
                                                          .eps(options.layer_norm_eps())));
  head = register_module("head", torch::nn::Linear(options.dim(), options.num_classes()));
}

at::Tensor SwitchExpertImpl::forward(const at::Tensor& tokens) {
  at::Tensor x = tokens;
  for (const auto& block : *blocks) x = block->as<TransformerBlock>()->forward(x);
  return head(norm(x.select(1, 0)));
}

SwitchViTImpl::SwitchViTImpl(const SwitchViTOptions& options_)
    : options(options_),
      // Hard routing by prototypes: no router to balance, so no balance losses.
      mixture(moe::MixtureOptions(options_.num_experts()).top_k(1).balance_losses({})) {
  const ViTBackboneOptions& backbone = options.backbone();
  const InputShape& in = backbone.input();
  const int64_t patch = backbone.patch_size();
  TORCH_CHECK(options.expert_depth() >= 1 && options.expert_depth() < backbone.depth(),
              "SwitchViT: expert_depth ", options.expert_depth(), " must be in [1, depth ",
              backbone.depth(), ")");
  TORCH_CHECK(options.num_experts() >= 1, "SwitchViT: num_experts ", options.num_experts(),
              " must be >= 1");
  TORCH_CHECK(options.ema_alpha() >= 0.0 && options.ema_alpha() <= 1.0,
              "SwitchViT: ema_alpha (keep rate) ", options.ema_alpha(), " must be in [0, 1]");
  TORCH_CHECK(options.routing_alpha() <= 1.0, "SwitchViT: routing_alpha ",
              options.routing_alpha(), " must be in [0, 1] (or negative: concatenated cosine)");
  const int64_t dim = backbone.embed_dim();
  const auto hidden = backbone.hidden();
  TORCH_CHECK(backbone.cls_token(), "SwitchViT: the model needs its CLS token");
  stem = register_patch_stem(*this, in, patch, dim, "SwitchViT");
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < backbone.depth() - options.expert_depth(); ++i) {
    blocks->push_back(TransformerBlock(TransformerBlockOptions(dim, backbone.num_heads(), hidden)
                                           .dropout(backbone.dropout())
                                           .layer_norm_eps(backbone.layer_norm_eps())));
  }
  experts = register_module("experts", torch::nn::ModuleList());
  const auto expert_options =
      SwitchExpertOptions(dim, backbone.num_heads(), hidden, options.expert_depth(), in.num_classes)
          .dropout(backbone.dropout())
          .layer_norm_eps(backbone.layer_norm_eps());
  for (int64_t e = 0; e < options.num_experts(); ++e) {
    experts->push_back(SwitchExpert(expert_options));
  }
  prototypes =
      register_buffer("prototypes", moe::unit_rows(at::randn({options.num_experts(), 2 * dim})));
  prototypes_ready = register_buffer("prototypes_ready", at::zeros({}, at::kLong));
  if (options.freeze_shared()) {
    stem.set_requires_grad(false);
    for (auto& p : blocks->parameters()) p.set_requires_grad(false);
  }
  // Routing is by the prototype buffers: no router parameters.
  register_moe_layer(MoeLayerRef{"experts", &mixture, nullptr, experts, nullptr});
}

at::Tensor SwitchViTImpl::shared_tokens(const at::Tensor& images) {
  at::Tensor x = stem.embed(images);  // [B, 1 + N, D]
  for (const auto& block : *blocks) x = block->as<TransformerBlock>()->forward(x);
  return x;
}

at::Tensor SwitchViTImpl::routing_feature(const at::Tensor& tokens) {
  const at::Tensor patches = tokens.slice(1, 1);  // [B, N, D] without CLS
  return at::cat({patches.mean(1), patches.std(1, /*unbiased=*/false)}, 1);  // [B, 2D]
}

moe::Routing SwitchViTImpl::route(const at::Tensor& feature) const {
  const at::Tensor f = feature.detach();
  const at::Tensor p = prototypes.detach().clone();
  moe::Routing r;
  const double alpha = options.routing_alpha();
  if (alpha < 0.0) {
    r.logits = at::matmul(moe::unit_rows(f), moe::unit_rows(p).t());  // [B, E]
  } else {
    const int64_t d = f.size(1) / 2;
    const auto cosines = [](const at::Tensor& a, const at::Tensor& b) {
      return at::matmul(moe::unit_rows(a), moe::unit_rows(b).t());
    };
    r.logits = cosines(f.slice(1, 0, d), p.slice(1, 0, d)) * alpha +
               cosines(f.slice(1, d), p.slice(1, d)) * (1.0 - alpha);  // [B, E]
  }
  r.probs = at::softmax(r.logits, 1);
  r.expert_idx = r.logits.argmax(1, /*keepdim=*/true);  // [B, 1]
  r.gates = at::ones({feature.size(0), 1}, feature.options());
  r.available = at::ones({options.num_experts()}, feature.options().dtype(at::kBool));
  return r;
}

void SwitchViTImpl::init_prototypes(const at::Tensor& feature) {
  torch::NoGradGuard no_grad;
  const at::Tensor f = moe::unit_rows(feature.detach());  // [B, 2D]
  const int64_t picks = std::min<int64_t>(options.num_experts(), f.size(0));
  if (picks == 0) return;
  std::vector<int64_t> chosen{0};
  // Largest cosine similarity of each row to any chosen row so far.
  at::Tensor closest = at::matmul(f, f[0]);  // [B]
  while (static_cast<int64_t>(chosen.size()) < picks) {
    const int64_t next = closest.argmin().item<int64_t>();
    chosen.push_back(next);
    closest = at::maximum(closest, at::matmul(f, f[next]));
  }
  const at::Tensor rows = at::tensor(chosen, at::TensorOptions().dtype(at::kLong)).to(f.device());
  // Stored as the features themselves, not their unit rows: the EMA then mixes like with like
  // (routing reads cosines, so the scale does not change which expert wins).
  prototypes.slice(0, 0, picks).copy_(feature.detach().index_select(0, rows));
  prototypes_ready.fill_(1);
}

int64_t SwitchViTImpl::init_prototypes_from_domains(const at::Tensor& images,
                                                    const at::Tensor& domain_ids) {
  TORCH_CHECK(images.size(0) == domain_ids.size(0) && images.size(0) > 0,
              "SwitchViT: ", images.size(0), " images and ", domain_ids.size(0), " domain ids");
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  std::vector<at::Tensor> chunks;
  for (int64_t start = 0; start < images.size(0); start += 64) {
    const int64_t end = std::min<int64_t>(images.size(0), start + 64);
    chunks.push_back(routing_feature(shared_tokens(images.slice(0, start, end))));
  }
  train(was_training);
  const at::Tensor feature = at::cat(chunks, 0);  // [N, 2D]
  const int64_t domains = domain_ids.max().item<int64_t>() + 1;
  const int64_t set = std::min(domains, options.num_experts());
  for (int64_t d = 0; d < set; ++d) {
    const at::Tensor rows = domain_ids.eq(d).nonzero().squeeze(1);
    TORCH_CHECK(rows.numel() > 0, "SwitchViT: domain ", d, " has no image");
    prototypes[d].copy_(feature.index_select(0, rows).mean(0));
  }
  prototypes_ready.fill_(1);
  return set;
}

at::Tensor SwitchViTImpl::forward(const at::Tensor& images) {
  const at::Tensor tokens = shared_tokens(images);  // [B, T, D]
  const at::Tensor feature = routing_feature(tokens);
  // The flag is read from the device once per model (not per step).
  if (is_training() && !prototypes_checked_) {
    if (prototypes_ready.item<int64_t>() == 0) init_prototypes(feature);
    prototypes_checked_ = true;
  }
  const moe::Routing routing = route(feature);
  const moe::ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<SwitchExpert>()->forward(rows);
  };
  at::Tensor out = mixture.forward(routing, tokens, expert, is_training());
  if (is_training()) {
    moe::ema_update_toward_means(prototypes, feature, routing.expert_idx.squeeze(1),
                                 options.ema_alpha());
  }
  return out;
}

}  // namespace moedil::model
