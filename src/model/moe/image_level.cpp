#include "moedil/model/moe/image_level.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cstddef>

#include "moedil/model/feed_forward.h"

namespace moedil::model::moe {

ImageLevelMoeImpl::ImageLevelMoeImpl(const ImageLevelMoeOptions& options_)
    : options(options_),
      mixture(MixtureOptions(options_.num_experts())
                  .top_k(1)
                  .routing(options_.routing())
                  .capacity_factor(options_.capacity_factor())
                  .balance_losses(options_.balance_losses())) {
  TORCH_CHECK(options.dim() > 0 && options.hidden() > 0 && options.num_experts() > 0,
              "ImageLevelMoe: dim, hidden and num_experts must be > 0, got ", options.dim(), ", ",
              options.hidden(), ", ", options.num_experts());
  for (double w : {options.repulsion_weight(), options.alignment_weight(),
                   options.consistency_weight()}) {
    TORCH_CHECK(w >= 0.0, "ImageLevelMoe: auxiliary loss weights must be >= 0, got ", w);
  }
  router = register_module(
      "router", CentroidRouter(CentroidRouterOptions(options.dim(), options.num_experts())
                                        .alpha_fast(options.alpha_fast())
                                        .alpha_slow(options.alpha_slow())));
  experts = register_module("experts", torch::nn::ModuleList());
  const auto expert_options =
      FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout());
  for (int64_t e = 0; e < options.num_experts(); ++e) {
    experts->push_back(FeedForward(expert_options));
  }
}

void ImageLevelMoeImpl::set_schedule(double temperature, double kl_balance_weight) {
  TORCH_CHECK(kl_balance_weight >= 0.0, "ImageLevelMoe: KL balance weight ", kl_balance_weight,
              " must be >= 0");
  router->set_temperature(temperature);
  kl_balance_weight_ = kl_balance_weight;
}

at::Tensor ImageLevelMoeImpl::forward(const at::Tensor& x) {
  // One row per image: route on the mean of its tokens [B, D]; the rows are the images [B, T, D].
  const Routing routing = router(x.mean(1));
  const ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(rows);
  };
  return mixture.forward(routing, x, expert, is_training());
}

at::Tensor ImageLevelMoeImpl::centroid_loss() const {
  const CentroidLosses& l = router->losses();
  if (!l.repulsion.defined()) return {};
  return l.repulsion * options.repulsion_weight() + l.alignment * options.alignment_weight() +
         l.consistency * options.consistency_weight() + l.balance * kl_balance_weight_;
}

}  // namespace moedil::model::moe
