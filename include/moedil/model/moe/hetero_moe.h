#pragma once
// An MoE MLP whose experts have different architectures (hetero_moe): each expert is one kind,
// "mlp" (FeedForward on every token), "conv" (TokenConv over the patch grid) or "attention"
// (self-attention over the image's tokens). Routing is per image (the conv and attention experts
// need the whole image): the router reads the CLS token or the token mean, picks top-k, and the
// shared routing core (Mixture) dispatches, counts usage and computes the balance losses.
#include <string>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/moe_settings.h"
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

/// The expert kinds hetero_moe knows.
const std::vector<std::string>& hetero_expert_kinds();

struct HeteroMoeOptions {
  HeteroMoeOptions(int64_t dim, int64_t hidden, std::vector<std::string> kinds)
      : dim_(dim), hidden_(hidden), kinds_(std::move(kinds)) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);  ///< hidden width of the mlp and conv experts
  TORCH_ARG(std::vector<std::string>, kinds);  ///< one per expert
  TORCH_ARG(int64_t, num_heads) = 4;           ///< attention experts
  TORCH_ARG(int64_t, grid_h) = 4;              ///< patch grid of the conv experts
  TORCH_ARG(int64_t, grid_w) = 4;
  TORCH_ARG(bool, route_with_cls) = true;
  TORCH_ARG(double, dropout) = 0.0;
  /// Top-k, routing, capacity, balance losses, noise and expert dropout; the number of experts
  /// is the number of kinds (settings' own count is replaced), shared experts are not used.
  TORCH_ARG(MoeSettings, settings) = MoeSettings(MixtureOptions(1));
};

class HeteroMoeImpl : public torch::nn::Cloneable<HeteroMoeImpl> {
 public:
  explicit HeteroMoeImpl(const HeteroMoeOptions& options);
  void reset() override;
  /// x [B, T, dim] -> [B, T, dim]
  at::Tensor forward(const at::Tensor& x);
  /// The same with every expert run on every image (test reference).
  at::Tensor forward_dense(const at::Tensor& x);

  HeteroMoeOptions options;
  Router router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  Mixture mixture{MixtureOptions(1)};

 private:
  at::Tensor run(const at::Tensor& x, bool dense);
};
TORCH_MODULE(HeteroMoe);

}  // namespace moedil::model::moe
