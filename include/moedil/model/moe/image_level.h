#pragma once
// The image-level MoE MLP (vit_moe_centroid's MoE layer): every image's tokens go to ONE
// FeedForward expert (top-1), chosen by a CentroidRouter (cosine similarity of the projected
// token mean to per-expert fast EMA centroids, temperature T). The routing core (Mixture)
// dispatches, counts usage and adds the configured balance losses; the layer adds the centroid
// router's auxiliary losses (repulsion, alignment, consistency and an annealed KL-to-uniform
// balance), each with its weight. Centroids move only in training forwards.
#include <cstdint>
#include <string>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/centroid_router.h"
#include "moedil/model/moe/mixture.h"

namespace moedil::model::moe {

struct ImageLevelMoeOptions {
  ImageLevelMoeOptions(int64_t dim, int64_t hidden, int64_t num_experts)
      : dim_(dim), hidden_(hidden), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);       ///< hidden width of each expert MLP
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, alpha_fast) = 0.8;  ///< keep rate of the fast centroids' EMA
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids' EMA
  TORCH_ARG(double, repulsion_weight) = 0.1;
  TORCH_ARG(double, alignment_weight) = 0.1;
  TORCH_ARG(double, consistency_weight) = 0.1;
  /// The Mixture's balance losses (model.moe_balance_losses), on the centroid routing.
  TORCH_ARG(BalanceWeights, balance_losses) = BalanceWeights{{"switch", 1.0}};
  /// The Mixture's routing ("token_choice" or "expert_choice") and capacity factor (0:
  /// unlimited); images left without an expert get 0 from the layer (the residual carries them).
  TORCH_ARG(std::string, routing) = "token_choice";
  TORCH_ARG(double, capacity_factor) = 0.0;
};

/// The image-level MoE MLP: x [B, T, dim] -> [B, T, dim]; image b's tokens all go through
/// expert k(b) scaled by its gate. Route input: the mean of the layer's input tokens.
class ImageLevelMoeImpl : public torch::nn::Module {
 public:
  explicit ImageLevelMoeImpl(const ImageLevelMoeOptions& options);
  /// x [B, T, dim] -> [B, T, dim]
  at::Tensor forward(const at::Tensor& x);
  /// Weighted centroid losses of the last training forward (undefined after evaluation):
  /// repulsion_weight * repulsion + alignment_weight * alignment + consistency_weight *
  /// consistency + kl_balance_weight * balance.
  at::Tensor centroid_loss() const;
  /// Temperature and KL-balance weight for the following forwards.
  void set_schedule(double temperature, double kl_balance_weight);
  double kl_balance_weight() const { return kl_balance_weight_; }

  ImageLevelMoeOptions options;
  CentroidRouter router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  Mixture mixture;

 private:
  double kl_balance_weight_ = 1.0;
};
TORCH_MODULE(ImageLevelMoe);

}  // namespace moedil::model::moe
