#include "moedil/model/moe/slow_centroid_router.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "moedil/model/moe/centroid_router.h"

namespace moedil::model::moe {
namespace {

/// c <- keep c + (1 - keep) m_e for every expert with images (m_e the mean of its unit
/// routing vectors), then every row of c scaled to unit length. In place, without gradient.
void move_and_normalise(at::Tensor& centroids, const at::Tensor& unit_z, const at::Tensor& idx,
                        double keep) {
  ema_update_toward_means(centroids, unit_z, idx, keep);
  centroids.copy_(unit_rows(centroids));
}

}  // namespace

SlowCentroidRouterImpl::SlowCentroidRouterImpl(const SlowCentroidRouterOptions& options_)
    : options(options_) {
  TORCH_CHECK(options.dim() > 0, "SlowCentroidRouter: dim ", options.dim(), " must be > 0");
  TORCH_CHECK(options.num_experts() > 0, "SlowCentroidRouter: num_experts ",
              options.num_experts(), " must be > 0");
  for (double keep : {options.alpha_fast(), options.alpha_slow()}) {
    TORCH_CHECK(keep >= 0.0 && keep <= 1.0, "SlowCentroidRouter: keep rate ", keep,
                " must be in [0, 1]");
  }
  const at::Tensor init = unit_rows(at::randn({options.num_experts(), options.dim()}));
  fast_centroids = register_buffer("fast_centroids", init.clone());
  slow_centroids = register_buffer("slow_centroids", init.clone());
  initialized_ = register_buffer("initialized", at::zeros({}, at::kBool));
}

bool SlowCentroidRouterImpl::initialized() {
  if (!initialized_seen_) initialized_seen_ = initialized_.item<bool>();
  return initialized_seen_;
}

Routing SlowCentroidRouterImpl::forward(const at::Tensor& z) {
  at::NoGradGuard no_grad;
  const int64_t num_experts = options.num_experts();
  const at::Tensor unit_z = unit_rows(z.detach().to(slow_centroids.scalar_type()));  // [B, D]
  if (is_training() && z.size(0) > 0 && !initialized()) {
    // The first E images' vectors, repeated in order when the batch has fewer.
    const at::Tensor pick =
        at::arange(num_experts, at::TensorOptions().dtype(at::kLong).device(z.device()))
            .remainder(z.size(0));
    const at::Tensor init = unit_z.index_select(0, pick);
    fast_centroids.copy_(init);
    slow_centroids.copy_(init);
    initialized_.fill_(true);
  }
  Routing r;
  r.logits = at::matmul(unit_z, slow_centroids.t());       // [B, E] cosines (unit rows)
  r.expert_idx = r.logits.argmax(1, /*keepdim=*/true);     // [B, 1]
  r.probs = at::one_hot(r.expert_idx.squeeze(1), num_experts).to(r.logits.scalar_type());
  r.gates = at::ones({z.size(0), 1}, r.logits.options());
  r.available = at::ones({num_experts}, z.options().dtype(at::kBool));
  if (is_training() && z.size(0) > 0) {
    const at::Tensor idx = r.expert_idx.squeeze(1);
    move_and_normalise(fast_centroids, unit_z, idx, options.alpha_fast());
    move_and_normalise(slow_centroids, unit_z, idx, options.alpha_slow());
  }
  return r;
}

}  // namespace moedil::model::moe
