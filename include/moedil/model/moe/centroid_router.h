#pragma once
// Image-level router by cosine similarity to per-expert EMA centroids (vit_moe_centroid).
// Each image's pooled token vector goes through a learnable projection ("proj"; the MoE layer
// registers this module as its router, so the router lr multiplier and router freezing reach
// it), is
// normalised to the embedding e, and is compared with two centroid sets (buffers, saved in
// checkpoints, never optimised): fast and slow.
//   probs = softmax(cos(e, fast) / T), expert = argmax, gate = that probability (top-1).
// In a training forward only, after the routing decision and without gradient, every expert
// that received images moves both centroids toward the mean of their (normalised) embeddings:
//   c <- alpha c + (1 - alpha) m    (alpha: the keep rate, as in the predecessor).
// An evaluation forward reads the centroids and changes nothing.
// The training forward also keeps the four auxiliary losses of the family (unweighted):
//   repulsion   mean over expert pairs (i < j) of cos(m_i, m_j), m_e the mean embedding of the
//               batch's images routed to e (with gradient); 0 when fewer than 2 experts are used
//   alignment   mean over images of 1 - cos(e, fast centroid of its expert)
//   consistency mean over images of KL(p_slow || p_fast), p_slow = softmax(cos(e, slow) / T)
//               taken as a fixed target (no gradient), p_fast = probs
//   balance     KL(P || uniform) = sum_e P_e log(E P_e), P the batch mean of probs
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "moedil/model/moe/router.h"

namespace moedil::model::moe {

struct CentroidRouterOptions {
  CentroidRouterOptions(int64_t dim, int64_t num_experts) : dim_(dim), num_experts_(num_experts) {}
  TORCH_ARG(int64_t, dim);          ///< width of the pooled rows and of the embedding
  TORCH_ARG(int64_t, num_experts);
  TORCH_ARG(double, alpha_fast) = 0.8;   ///< keep rate of the fast centroids, in [0, 1]
  TORCH_ARG(double, alpha_slow) = 0.99;  ///< keep rate of the slow centroids, in [0, 1]
  TORCH_ARG(double, temperature) = 1.0;  ///< softmax temperature T > 0 (see set_temperature)
};

/// The unweighted auxiliary losses of the last training forward (scalars).
struct CentroidLosses {
  at::Tensor repulsion;
  at::Tensor alignment;
  at::Tensor consistency;
  at::Tensor balance;
};

class CentroidRouterImpl : public torch::nn::Module {
 public:
  /// Throws c10::Error for non-positive sizes, rates outside [0, 1] or T <= 0. The centroids
  /// are a random normal draw from the default generator, normalised per expert.
  explicit CentroidRouterImpl(const CentroidRouterOptions& options);

  /// pooled [B, dim] -> Routing over B rows (logits = cos(e, fast) / T [B, E], probs [B, E],
  /// expert_idx [B, 1], gates [B, 1], available all true). In training also keeps losses()
  /// and then updates the centroids.
  Routing forward(const at::Tensor& pooled);

  /// Normalised projected embeddings [B, dim] of pooled [B, dim].
  at::Tensor embed(const at::Tensor& pooled);

  /// Losses of the last training forward (undefined members after an evaluation forward).
  const CentroidLosses& losses() const { return losses_; }

  /// Sets T (> 0) for the following forwards.
  void set_temperature(double temperature);
  double temperature() const { return options.temperature(); }

  CentroidRouterOptions options;
  torch::nn::Linear proj{nullptr};
  at::Tensor fast_centroids;  ///< buffer [E, dim]
  at::Tensor slow_centroids;  ///< buffer [E, dim]

 private:
  CentroidLosses losses_;
};
TORCH_MODULE(CentroidRouter);

/// c <- keep c + (1 - keep) m_e for every expert e with at least one row, m_e the mean of
/// `rows` [R, D] assigned to e by expert [R] (int64); other experts' rows of c [E, D] stay.
/// `keep` in [0, 1] is the keep rate (the predecessor's alpha). In place, without gradient.
/// Shared by the centroid and prototype routers.
void ema_update_toward_means(at::Tensor& centroids, const at::Tensor& rows,
                             const at::Tensor& expert, double keep);

/// Rows of x [N, D] scaled to unit L2 norm (a zero row stays zero).
at::Tensor unit_rows(const at::Tensor& x);

}  // namespace moedil::model::moe
