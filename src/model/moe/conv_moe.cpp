#include "moedil/model/moe/conv_moe.h"

#include <c10/util/Exception.h>

namespace moedil::model::moe {

ConvMoeImpl::ConvMoeImpl(const ConvMoeOptions& options_)
    : options(options_), mixture(options_.mixture()) {
  reset();
}

void ConvMoeImpl::reset() {
  const int64_t num_experts = options.mixture().num_experts();
  TORCH_CHECK(num_experts >= 1, "ConvMoe: num_experts ", num_experts, " must be >= 1");
  TORCH_CHECK(options.num_shared() >= 0, "ConvMoe: num_shared ", options.num_shared(),
              " must be >= 0");
  router = register_module("router", Router(RouterOptions(options.conv().in_channels(), num_experts)
                                                .top_k(options.mixture().top_k())
                                                .noise_std(options.noise_std())
                                                .expert_dropout(options.expert_dropout())));
  experts = register_module("experts", torch::nn::ModuleList());
  shared_experts = register_module("shared_experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < num_experts; ++e) experts->push_back(torch::nn::Conv2d(options.conv()));
  for (int64_t e = 0; e < options.num_shared(); ++e) {
    shared_experts->push_back(torch::nn::Conv2d(options.conv()));
  }
  mixture = Mixture(options.mixture());
}

at::Tensor ConvMoeImpl::forward(const at::Tensor& x) { return run(x, /*dense=*/false); }

at::Tensor ConvMoeImpl::forward_dense(const at::Tensor& x) { return run(x, /*dense=*/true); }

at::Tensor ConvMoeImpl::run(const at::Tensor& x, bool dense) {
  TORCH_CHECK(x.dim() == 4, "ConvMoe: expected images [B, C, H, W], got ", x.sizes());
  const Routing routing = router(x.mean({2, 3}));  // one decision per image, on [B, in]
  const ExpertFn expert = [this](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->as<torch::nn::Conv2d>()->forward(rows);
  };
  at::Tensor out = mixture.forward(routing, x, expert, is_training(), dense);
  for (const auto& shared : *shared_experts) {
    out = out + shared->as<torch::nn::Conv2d>()->forward(x);
  }
  return out;
}

}  // namespace moedil::model::moe
