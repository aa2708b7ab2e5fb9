#include "moedil/model/moe/slow_centroid_moe.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstddef>

#include "moedil/model/feed_forward.h"

namespace moedil::model::moe {

SlowCentroidMoeImpl::SlowCentroidMoeImpl(const SlowCentroidMoeOptions& options_)
    : options(options_),
      mixture(MixtureOptions(options_.num_experts())
                  .top_k(1)
                  .balance_losses({})
                  .unit_forced_gate(true)) {
  TORCH_CHECK(options.dim() > 0 && options.hidden() > 0 && options.num_experts() > 0,
              "SlowCentroidMoe: dim, hidden and num_experts must be > 0, got ", options.dim(),
              ", ", options.hidden(), ", ", options.num_experts());
  router = register_module(
      "router", SlowCentroidRouter(SlowCentroidRouterOptions(options.dim(), options.num_experts())
                                       .alpha_fast(options.alpha_fast())
                                       .alpha_slow(options.alpha_slow())));
  experts = register_module("experts", torch::nn::ModuleList());
  const auto expert_options =
      FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout());
  for (int64_t e = 0; e < options.num_experts(); ++e) {
    experts->push_back(FeedForward(expert_options));
  }
}

at::Tensor SlowCentroidMoeImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 && x.size(1) >= 2, "SlowCentroidMoe: expected [B, 1 + N, dim] with "
              "a CLS token and at least one patch, got ", x.sizes());
  // Route on the mean of the patch tokens (the CLS token left out); the rows are the images.
  const Routing routing = router(x.narrow(1, 1, x.size(1) - 1).mean(1));
  const ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(rows);
  };
  return mixture.forward(routing, x, expert, is_training());
}

}  // namespace moedil::model::moe
