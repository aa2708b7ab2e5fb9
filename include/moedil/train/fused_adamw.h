#pragma once
// AdamW whose step updates each parameter in one pass over its elements. LibTorch's AdamW
// issues about ten tensor ops per parameter per step (three of them scalar multiplies that each
// also convert their scalar to a tensor): ~2,500 small dispatched ops per step for an 84-tensor
// ViT, 40% of all the ops of a training step of bench/peer_moedil.jsonc. This class is that
// AdamW (same options, same per-parameter state, so checkpoints load into either) with a step
// that, for contiguous float32 CPU parameters and gradients, computes the same update in one
// loop per parameter, split over LibTorch's threads. Other parameters (double, CUDA, strided,
// sparse gradients) and amsgrad take LibTorch's step.
//
// Per element, in float32, with LibTorch's order of operations:
//   p <- p * (1 - lr * wd);  m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g * g;
//   p <- p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^step.
// Results agree with LibTorch's AdamW to float32 rounding (LibTorch's vectorised kernels fuse
// some multiply-adds), not bit for bit; they do not depend on the thread count.
#include <torch/optim/adamw.h>

namespace moedil::train {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;
  at::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace moedil::train
