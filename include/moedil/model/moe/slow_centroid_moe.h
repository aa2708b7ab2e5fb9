#pragma once
// The predecessor's image-level MoE MLP (its vit_moe_imagelevel's layer): every image's tokens go
// through ONE FeedForward expert, chosen by a SlowCentroidRouter from the mean of the image's
// patch tokens (the CLS token, first, left out) of the layer's input, with gate 1. The routing
// core (Mixture) dispatches and counts usage; there is no balance loss (nothing in the routing
// can learn).
#include <cstdint>

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/slow_centroid_router.h"

namespace moedil::model::moe {

struct SlowCentroidMoeOptions {
  SlowCentroidMoeOptions(int64_t dim, int64_t hidden, int64_t num_experts)
      : dim_(dim), hidden_(hidden), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, hidden);  ///< hidden width of each expert MLP
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(double, dropout) = 0.0;
  TORCH_ARG(double, alpha_fast) = 0.8;   ///< keep rate of the fast centroids' EMA
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids' EMA
};

class SlowCentroidMoeImpl : public torch::nn::Module {
 public:
  explicit SlowCentroidMoeImpl(const SlowCentroidMoeOptions& options);
  /// x [B, 1 + N, dim] (CLS first) -> [B, 1 + N, dim]: image b's tokens through expert k(b).
  at::Tensor forward(const at::Tensor& x);

  SlowCentroidMoeOptions options;
  SlowCentroidRouter router{nullptr};
  torch::nn::ModuleList experts{nullptr};
  Mixture mixture;
};
TORCH_MODULE(SlowCentroidMoe);

}  // namespace moedil::model::moe
