#include "moedil/model/vit_imagelevel.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/common/anneal.h"
#include "moedil/model/transformer_block.h"

namespace moedil::model {

ImageLevelBlockImpl::ImageLevelBlockImpl(int64_t num_heads,
                                         const moe::ImageLevelMoeOptions& moe_options) {
  using torch::nn::LayerNormOptions;
  const int64_t dim = moe_options.dim();
  norm1 = register_module("norm1", torch::nn::LayerNorm(LayerNormOptions({dim})));
  attn = register_module(
      "attn", SelfAttention(SelfAttentionOptions(dim, num_heads).dropout(moe_options.dropout())));
  norm2 = register_module("norm2", torch::nn::LayerNorm(LayerNormOptions({dim})));
  moe = register_module("moe", moe::ImageLevelMoe(moe_options));
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
  TORCH_CHECK(backbone.cls_token(), "ViTImageLevel: the model needs its CLS token");
  stem = register_patch_stem(*this, in, patch, dim, "ViTImageLevel");
  blocks = register_module("blocks", torch::nn::ModuleList());
  const auto moe_options = moe::ImageLevelMoeOptions(dim, hidden, options.num_experts())
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
    register_moe_layer("blocks." + std::to_string(i) + ".moe", *block->moe);
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
  temperature_ = LinearAnneal{options.temperature_start(), options.temperature_end(),
                              options.anneal_epochs()}
                     .at(epoch);
  kl_balance_weight_ = LinearAnneal{options.kl_balance_weight_start(),
                                    options.kl_balance_weight_end(), options.anneal_epochs()}
                           .at(epoch);
  for (auto& layer : moe_mlps) layer->set_schedule(temperature_, kl_balance_weight_);
}

}  // namespace moedil::model
