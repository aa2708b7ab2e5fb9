#include "moedil/model/vit_imagelevel.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/feed_forward.h"
#include "moedil/model/transformer_block.h"

namespace moedil::model {

ImageLevelMoeImpl::ImageLevelMoeImpl(const ImageLevelMoeOptions& options_)
    : options(options_),
      mixture(moe::MixtureOptions(options_.num_experts())
                  .top_k(1)
                  .routing(options_.routing())
                  .capacity_factor(options_.capacity_factor())
                  .balance_losses(options_.balance_losses())) {
  TORCH_CHECK(options.dim() > 0 && options.hidden() > 0 && options.num_experts() > 0,
              "ImageLevelMoe: dim, hidden and num_experts must be > 0, got ", options.dim(), ", ",
              options.hidden(), ", ", options.num_experts());
  for (double w : {options.repulsion_weight(), options.alignment_weight(),
                   options.consistency_weight()}) {
    TORCH_CHECK(w >= 0.0, "ImageLevelMoe: auxiliary loss weights must be >= 0, got ", w);
  }
  router = register_module(
      "router", moe::CentroidRouter(moe::CentroidRouterOptions(options.dim(), options.num_experts())
                                        .alpha_fast(options.alpha_fast())
                                        .alpha_slow(options.alpha_slow())));
  experts = register_module("experts", torch::nn::ModuleList());
  const auto expert_options =
      FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout());
  for (int64_t e = 0; e < options.num_experts(); ++e) {
    experts->push_back(FeedForward(expert_options));
  }
}

void ImageLevelMoeImpl::set_schedule(double temperature, double kl_balance_weight) {
  TORCH_CHECK(kl_balance_weight >= 0.0, "ImageLevelMoe: KL balance weight ", kl_balance_weight,
              " must be >= 0");
  router->set_temperature(temperature);
  kl_balance_weight_ = kl_balance_weight;
}

at::Tensor ImageLevelMoeImpl::forward(const at::Tensor& x) {
  // One row per image: route on the mean of its tokens [B, D]; the rows are the images [B, T, D].
  const moe::Routing routing = router(x.mean(1));
  const moe::ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(rows);
  };
  return mixture.forward(routing, x, expert, is_training());
}

at::Tensor ImageLevelMoeImpl::centroid_loss() const {
  const moe::CentroidLosses& l = router->losses();
  if (!l.repulsion.defined()) return {};
  return l.repulsion * options.repulsion_weight() + l.alignment * options.alignment_weight() +
         l.consistency * options.consistency_weight() + l.balance * kl_balance_weight_;
}

ImageLevelBlockImpl::ImageLevelBlockImpl(int64_t num_heads,
                                         const ImageLevelMoeOptions& moe_options) {
  using torch::nn::LayerNormOptions;
  const int64_t dim = moe_options.dim();
  norm1 = register_module("norm1", torch::nn::LayerNorm(LayerNormOptions({dim})));
  attn = register_module(
      "attn", SelfAttention(SelfAttentionOptions(dim, num_heads).dropout(moe_options.dropout())));
  norm2 = register_module("norm2", torch::nn::LayerNorm(LayerNormOptions({dim})));
  moe = register_module("moe", ImageLevelMoe(moe_options));
}

at::Tensor ImageLevelBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor h = x + attn(norm1(x));
  return h + moe(norm2(h));
}

ViTImageLevelImpl::ViTImageLevelImpl(const ViTImageLevelOptions& options_)
    : options(options_),
      temperature_(options_.temperature_start()),
      kl_balance_weight_(options_.kl_balance_weight_start()) {
  const ViTBackboneOptions& backbone = options.backbone();
  const InputShape& in = backbone.input();
  const int64_t patch = backbone.patch_size();
  TORCH_CHECK(options.anneal_epochs() >= 1, "ViTImageLevel: anneal_epochs ",
              options.anneal_epochs(), " must be >= 1");
  TORCH_CHECK(options.temperature_start() > 0.0 && options.temperature_end() > 0.0,
              "ViTImageLevel: temperatures must be > 0, got ", options.temperature_start(), " and ",
              options.temperature_end());
  TORCH_CHECK(options.kl_balance_weight_start() >= 0.0 && options.kl_balance_weight_end() >= 0.0,
              "ViTImageLevel: KL balance weights must be >= 0");
  for (int64_t index : options.moe_layers()) {
    TORCH_CHECK(index >= 0 && index < backbone.depth(), "ViTImageLevel: moe layer index ", index,
                " out of range for depth ", backbone.depth());
  }
  const int64_t dim = backbone.embed_dim();
  const auto hidden = backbone.hidden();
  stem = register_patch_stem(*this, in, patch, dim, "ViTImageLevel");
  blocks = register_module("blocks", torch::nn::ModuleList());
  const auto moe_options = ImageLevelMoeOptions(dim, hidden, options.num_experts())
                               .dropout(backbone.dropout())
                               .alpha_fast(options.alpha_fast())
                               .alpha_slow(options.alpha_slow())
                               .repulsion_weight(options.repulsion_weight())
                               .alignment_weight(options.alignment_weight())
                               .consistency_weight(options.consistency_weight())
                               .balance_losses(options.balance_losses())
                               .routing(options.routing())
                               .capacity_factor(options.capacity_factor());
  for (int64_t i = 0; i < backbone.depth(); ++i) {
    const auto& layers = options.moe_layers();
    if (std::find(layers.begin(), layers.end(), i) == layers.end()) {
      blocks->push_back(TransformerBlock(
          TransformerBlockOptions(dim, backbone.num_heads(), hidden).dropout(backbone.dropout())));
      continue;
    }
    ImageLevelBlock block(backbone.num_heads(), moe_options);
    blocks->push_back(block);
    block->moe->set_schedule(temperature_, kl_balance_weight_);
    moe_mlps.push_back(block->moe);
    register_moe_layer("blocks." + std::to_string(i) + ".moe", block->moe->mixture,
                       block->moe->experts);
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  head = register_module("head", torch::nn::Linear(dim, in.num_classes));
}

at::Tensor ViTImageLevelImpl::forward(const at::Tensor& images) {
  at::Tensor x = stem.embed(images);  // [B, 1 + N, D]
  for (const auto& block : *blocks) {
    if (auto* moe_block = block->as<ImageLevelBlock>()) {
      x = moe_block->forward(x);
    } else {
      x = block->as<TransformerBlock>()->forward(x);
    }
  }
  return head(norm(x.select(1, 0)));
}

at::Tensor ViTImageLevelImpl::aux_loss() const {
  at::Tensor total = ClassifierImpl::aux_loss();
  for (const auto& layer : moe_mlps) {
    const at::Tensor loss = layer->centroid_loss();
    if (loss.defined()) total = total.defined() ? total + loss : loss;
  }
  return total;
}

void ViTImageLevelImpl::on_epoch_start(int64_t /*domain*/, int64_t epoch) {
  const double s = static_cast<double>(std::min<int64_t>(std::max<int64_t>(epoch, 0),
                                                         options.anneal_epochs())) /
                   static_cast<double>(options.anneal_epochs());
  temperature_ =
      options.temperature_start() + (options.temperature_end() - options.temperature_start()) * s;
  kl_balance_weight_ = options.kl_balance_weight_start() +
                       (options.kl_balance_weight_end() - options.kl_balance_weight_start()) * s;
  for (auto& layer : moe_mlps) layer->set_schedule(temperature_, kl_balance_weight_);
}

}  // namespace moedil::model
