#include "moedil/model/moe/centroid_router.h"

#include <cmath>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace moedil::model::moe {

at::Tensor unit_rows(const at::Tensor& x) {
  return x / x.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
}

void ema_update_toward_means(at::Tensor& centroids, const at::Tensor& rows,
                             const at::Tensor& expert, double keep) {
  at::NoGradGuard no_grad;
  const int64_t num_experts = centroids.size(0);
  const at::Tensor r = rows.detach().to(centroids.scalar_type());
  // sums [E, D], counts [E]
  const at::Tensor sums =
      at::zeros_like(centroids).index_add_(0, expert.reshape({-1}), r);
  const at::Tensor counts = at::bincount(expert.reshape({-1}), {}, num_experts)
                                .to(centroids.scalar_type())
                                .unsqueeze(1);  // [E, 1]
  const at::Tensor means = sums / counts.clamp_min(1.0);
  const at::Tensor moved = centroids * keep + means * (1.0 - keep);
  centroids.copy_(at::where(counts > 0, moved, centroids));
}

CentroidRouterImpl::CentroidRouterImpl(const CentroidRouterOptions& options_)
    : options(options_) {
  TORCH_CHECK(options.dim() > 0, "CentroidRouter: dim ", options.dim(), " must be > 0");
  TORCH_CHECK(options.num_experts() > 0, "CentroidRouter: num_experts ", options.num_experts(),
              " must be > 0");
  TORCH_CHECK(options.alpha_fast() >= 0.0 && options.alpha_fast() <= 1.0,
              "CentroidRouter: alpha_fast (keep rate) ", options.alpha_fast(),
              " must be in [0, 1]");
  TORCH_CHECK(options.alpha_slow() >= 0.0 && options.alpha_slow() <= 1.0,
              "CentroidRouter: alpha_slow (keep rate) ", options.alpha_slow(),
              " must be in [0, 1]");
  set_temperature(options.temperature());
  proj = register_module("proj", torch::nn::Linear(options.dim(), options.dim()));
  // One draw, both sets start equal: fast and slow agree until training separates them.
  const at::Tensor init = unit_rows(at::randn({options.num_experts(), options.dim()}));
  fast_centroids = register_buffer("fast_centroids", init.clone());
  slow_centroids = register_buffer("slow_centroids", init.clone());
}

void CentroidRouterImpl::set_temperature(double temperature) {
  TORCH_CHECK(temperature > 0.0 && std::isfinite(temperature), "CentroidRouter: temperature ",
              temperature, " must be > 0");
  options.temperature(temperature);
}

at::Tensor CentroidRouterImpl::embed(const at::Tensor& pooled) { return unit_rows(proj(pooled)); }

Routing CentroidRouterImpl::forward(const at::Tensor& pooled) {
  const double t = options.temperature();
  const int64_t num_experts = options.num_experts();
  const at::Tensor emb = embed(pooled);  // [B, D]
  // Snapshots: the update below must not change what this forward's graph saw.
  const at::Tensor fast = unit_rows(fast_centroids.detach().clone());  // [E, D]
  const at::Tensor cos_fast = at::matmul(emb, fast.t());               // [B, E]
  Routing r;
  r.logits = cos_fast / t;
  r.probs = at::softmax(r.logits, 1);
  r.expert_idx = r.probs.detach().argmax(1, /*keepdim=*/true);  // [B, 1]
  r.gates = r.probs.gather(1, r.expert_idx);                     // [B, 1]
  r.available = at::ones({num_experts}, pooled.options().dtype(at::kBool));
  if (!is_training()) {
    losses_ = CentroidLosses{};
    return r;
  }

  const at::Tensor idx = r.expert_idx.squeeze(1);  // [B]
  // repulsion: per-expert mean embeddings of this batch, pairwise cosine over used experts
  const at::Tensor one_hot = at::one_hot(idx, num_experts).to(emb.scalar_type());  // [B, E]
  const at::Tensor counts = one_hot.sum(0);                                        // [E]
  const at::Tensor used = at::nonzero(counts > 0).squeeze(1);
  const int64_t num_used = used.size(0);
  if (num_used >= 2) {
    const at::Tensor means = (at::matmul(one_hot.t(), emb) / counts.clamp_min(1.0).unsqueeze(1))
                                 .index_select(0, used);  // [U, D]
    const at::Tensor unit = unit_rows(means);
    const at::Tensor gram = at::matmul(unit, unit.t());  // [U, U]
    const at::Tensor upper = at::triu(at::ones({num_used, num_used}, at::kBool), 1)
                                 .to(gram.device());
    losses_.repulsion = gram.masked_select(upper).mean();
  } else {
    losses_.repulsion = at::zeros({}, emb.options());
  }
  // alignment: 1 - cos(e, fast centroid of the chosen expert)
  losses_.alignment = (1.0 - cos_fast.gather(1, r.expert_idx)).mean();
  // consistency: KL(p_slow || p_fast), p_slow a fixed target
  const at::Tensor slow = unit_rows(slow_centroids.detach().clone());
  const at::Tensor p_slow = at::softmax(at::matmul(emb, slow.t()) / t, 1).detach();
  const at::Tensor log_fast = at::log_softmax(r.logits, 1);
  losses_.consistency =
      (p_slow * (p_slow.clamp_min(1e-12).log() - log_fast)).sum(1).mean();
  // balance: KL(mean routing distribution || uniform)
  const at::Tensor mean_probs = r.probs.mean(0);  // [E]
  losses_.balance =
      (mean_probs * (mean_probs.clamp_min(1e-12) * static_cast<double>(num_experts)).log()).sum();

  ema_update_toward_means(fast_centroids, emb, idx, options.alpha_fast());
  ema_update_toward_means(slow_centroids, emb, idx, options.alpha_slow());
  return r;
}

}  // namespace moedil::model::moe
