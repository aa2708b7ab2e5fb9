#pragma once
// A residual block with mixture-of-experts weights: E routed experts, each a whole dense
// BasicBlock with the same in/out channels and stride, chosen per image by a router on the
// globally average-pooled block input (top-k), plus optional always-on shared BasicBlocks whose
// outputs are summed in. Routing, capacity, sparse dispatch, usage counters and balance losses are
// moe::Mixture's. Each expert's BatchNorm sees only the images routed to it. The experts include
// their shortcut, so an image the mixture drops (over capacity, or picked by no expert with
// expert_choice) gets the shared blocks' output only: 0 without shared experts.
#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/basic_block.h"
#include "moedil/model/moe/mixture.h"
#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

struct BlockMoeOptions {
  /// `block`: the shape of every expert (its `moe` is ignored: experts are dense blocks);
  /// `mixture`: the routed experts' count, top-k, routing, capacity and balance losses.
  BlockMoeOptions(BasicBlockOptions block, MixtureOptions mixture)
      : block_(std::move(block)), mixture_(std::move(mixture)) {}
  TORCH_ARG(BasicBlockOptions, block);
  TORCH_ARG(MixtureOptions, mixture);
  /// Always-on expert blocks, summed into the output of every image.
  TORCH_ARG(int64_t, num_shared) = 0;
  /// Training only: Gaussian noise on the router logits (noisy top-k).
  TORCH_ARG(double, noise_std) = 0.0;
  /// Training only: probability that an expert is unavailable for a forward.
  TORCH_ARG(double, expert_dropout) = 0.0;
};

class BlockMoeImpl : public torch::nn::Cloneable<BlockMoeImpl> {
 public:
  explicit BlockMoeImpl(const BlockMoeOptions& options);
  void reset() override;

  /// x [B, in, H, W] -> [B, out, ceil(H / stride), ceil(W / stride)]
  at::Tensor forward(const at::Tensor& x);
  /// Same result with every routed expert run on every image (test reference; equal to
  /// forward in evaluation, where BatchNorm does not depend on the batch).
  at::Tensor forward_dense(const at::Tensor& x);

  BlockMoeOptions options;
  Router router{nullptr};                         ///< on GAP(x) [B, in]
  torch::nn::ModuleList experts{nullptr};         ///< E BasicBlock
  torch::nn::ModuleList shared_experts{nullptr};  ///< num_shared BasicBlock
  Mixture mixture;

 private:
  at::Tensor run(const at::Tensor& x, bool dense);
};
TORCH_MODULE(BlockMoe);

}  // namespace moedil::model::moe
