#pragma once
// The routing side of an MoE layer whose experts are not the transformer MLP (ConvMoe, BlockMoe,
// HeteroMoe), with its experts' shape left open: a model holds one MoeSettings and fills in
// each layer's experts.
#include <torch/arg.h>

#include "moedil/model/moe/mixture.h"

namespace moedil::model::moe {

struct MoeSettings {
  explicit MoeSettings(MixtureOptions mixture) : mixture_(std::move(mixture)) {}
  /// Routed experts' count, top-k, routing, capacity and balance losses.
  TORCH_ARG(MixtureOptions, mixture);
  /// Always-on experts, summed in.
  TORCH_ARG(int64_t, num_shared) = 0;
  /// Training only: Gaussian noise on the router logits (noisy top-k).
  TORCH_ARG(double, noise_std) = 0.0;
  /// Training only: probability that an expert is unavailable for a forward.
  TORCH_ARG(double, expert_dropout) = 0.0;
};

}  // namespace moedil::model::moe
