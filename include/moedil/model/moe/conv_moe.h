#pragma once
// A convolution with mixture-of-experts weights: E routed experts, each a Conv2d of the same
// shape and stride, chosen per image by a router on the globally average-pooled input feature
// map (top-k), plus optional always-on shared experts of the same shape whose outputs are summed
// in. Routing, capacity, sparse dispatch, usage counters and balance losses are moe::Mixture's.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

struct ConvMoeOptions {
  /// `conv`: the shape of every expert (in/out channels, kernel, stride, padding, bias);
  /// `mixture`: the routed experts' count, top-k, routing, capacity and balance losses.
  ConvMoeOptions(torch::nn::Conv2dOptions conv, MixtureOptions mixture)
      : conv_(std::move(conv)), mixture_(std::move(mixture)) {}
  TORCH_ARG(torch::nn::Conv2dOptions, conv);
  TORCH_ARG(MixtureOptions, mixture);
  /// Always-on experts (same shape), summed into the output of every image.
  TORCH_ARG(int64_t, num_shared) = 0;
  /// Training only: Gaussian noise on the router logits (noisy top-k).
  TORCH_ARG(double, noise_std) = 0.0;
  /// Training only: probability that an expert is unavailable for a forward.
  TORCH_ARG(double, expert_dropout) = 0.0;
};

class ConvMoeImpl : public torch::nn::Cloneable<ConvMoeImpl> {
 public:
  explicit ConvMoeImpl(const ConvMoeOptions& options);
  void reset() override;

  /// x [B, in, H, W] -> [B, out, H', W'] (H', W' as the Conv2d gives them)
  at::Tensor forward(const at::Tensor& x);
  /// Same result with every routed expert run on every image (test reference).
  at::Tensor forward_dense(const at::Tensor& x);

  ConvMoeOptions options;
  Router router{nullptr};                         ///< on GAP(x) [B, in]
  torch::nn::ModuleList experts{nullptr};         ///< E Conv2d
  torch::nn::ModuleList shared_experts{nullptr};  ///< num_shared Conv2d
  Mixture mixture;

 private:
  at::Tensor run(const at::Tensor& x, bool dense);
};
TORCH_MODULE(ConvMoe);

}  // namespace moedil::model::moe
