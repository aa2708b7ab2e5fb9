#include "moedil/model/moe/moe_layer.h"

#include "moedil/common/error.h"

#include <algorithm>

#include <c10/util/Exception.h>

#include "moedil/common/suggest.h"
#include "moedil/model/moe/balance.h"

namespace moedil::model::moe {

MoeLayerImpl::MoeLayerImpl(const MoeLayerOptions& options_) : options(options_) { reset(); }

void MoeLayerImpl::reset() {
  TORCH_CHECK(options.granularity() == "token" || options.granularity() == "sample",
              "MoeLayer: granularity must be 'token' or 'sample', got '", options.granularity(),
              "'");
  // The shared-experts-only layer (0 routed experts) has no router and no routing state.
  TORCH_CHECK(options.num_experts() > 0 || options.num_shared() > 0,
              "MoeLayer: no routed and no shared expert");
  if (options.num_experts() > 0) {
    mixture = Mixture(MixtureOptions(options.num_experts())
                          .top_k(options.top_k())
                          .routing(options.routing())
                          .capacity_factor(options.capacity_factor())
                          .balance_losses(options.balance_losses())
                          .unit_forced_gate(options.renormalize_gates()));
    router = register_module("router", Router(RouterOptions(options.dim(), options.num_experts())
                                                  .top_k(options.top_k())
                                                  .noise_std(options.noise_std())
                                                  .expert_dropout(options.expert_dropout())
                                                  .renormalize(options.renormalize_gates())));
  }
  experts = register_module("experts", torch::nn::ModuleList());
  shared_experts = register_module("shared_experts", torch::nn::ModuleList());
  const auto expert_options =
      FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout());
  for (int64_t e = 0; e < options.num_experts(); ++e) experts->push_back(FeedForward(expert_options));
  for (int64_t e = 0; e < options.num_shared(); ++e) {
    shared_experts->push_back(FeedForward(expert_options));
  }
}

at::Tensor MoeLayerImpl::forward(const at::Tensor& x) { return run(x, /*dense=*/false); }

at::Tensor MoeLayerImpl::forward_dense(const at::Tensor& x) { return run(x, /*dense=*/true); }

bool MoeLayerImpl::first_token_suffices() const {
  // Dropout drawn for fewer tokens would consume the generator differently.
  if (is_training() && options.dropout() > 0.0) return false;
  if (options.num_experts() == 0) return true;  // shared experts only: tokenwise
  // An image's tokens all go where its CLS token sends them; the expert means of output_variance
  // (training only) average over the tokens run.
  return options.granularity() == "sample" && options.route_with_cls() &&
         !(is_training() && needs_expert_means(options.balance_losses()));
}

at::Tensor MoeLayerImpl::run(const at::Tensor& x, bool dense) {
  if (options.num_experts() == 0) {
    at::Tensor out;
    for (const auto& shared : *shared_experts) {
      const at::Tensor y = shared->as<FeedForward>()->forward(x);
      out = out.defined() ? out + y : y;
    }
    return out;
  }
  const int64_t batch = x.size(0);
  const int64_t tokens = x.size(1);
  const int64_t dim = x.size(2);
  const bool per_token = options.granularity() == "token";
  // A row is a token [dim] (token routing) or an image [T, dim] (sample routing).
  const at::Tensor rows = per_token ? x.reshape({batch * tokens, dim}) : x;
  const at::Tensor route_input =
      per_token ? rows : (options.route_with_cls() ? x.select(1, 0) : x.mean(1));
  const ExpertFn expert = [this](int64_t e, const at::Tensor& r) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(r);
  };
  at::Tensor out = mixture.forward(router(route_input), rows, expert, is_training(), dense)
                       .reshape({batch, tokens, dim});
  for (const auto& shared : *shared_experts) out = out + shared->as<FeedForward>()->forward(x);
  return out;
}

}  // namespace moedil::model::moe
