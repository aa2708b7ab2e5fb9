#include "moedil/model/moe/hetero_moe.h"

#include <algorithm>

#include <c10/util/Exception.h>

#include "moedil/common/suggest.h"
#include "moedil/model/attention.h"
#include "moedil/model/feed_forward.h"
#include "moedil/model/token_conv.h"

namespace moedil::model::moe {

const std::vector<std::string>& hetero_expert_kinds() {
  static const std::vector<std::string> kinds{"mlp", "conv", "attention"};
  return kinds;
}

HeteroMoeImpl::HeteroMoeImpl(const HeteroMoeOptions& options_) : options(options_) { reset(); }

void HeteroMoeImpl::reset() {
  const auto& kinds = options.kinds();
  TORCH_CHECK(!kinds.empty(), "HeteroMoe: needs at least one expert");
  const auto num_experts = static_cast<int64_t>(kinds.size());
  const MoeSettings& settings = options.settings();
  mixture = Mixture(MixtureOptions(settings.mixture()).num_experts(num_experts));
  router = register_module("router", Router(RouterOptions(options.dim(), num_experts)
                                                .top_k(settings.mixture().top_k())
                                                .noise_std(settings.noise_std())
                                                .expert_dropout(settings.expert_dropout())));
  experts = register_module("experts", torch::nn::ModuleList());
  for (const auto& kind : kinds) {
    if (kind == "mlp") {
      experts->push_back(FeedForward(
          FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout())));
    } else if (kind == "conv") {
      experts->push_back(TokenConv(
          TokenConvOptions(options.dim(), options.hidden(), options.grid_h(), options.grid_w())));
    } else if (kind == "attention") {
      experts->push_back(SelfAttention(
          SelfAttentionOptions(options.dim(), options.num_heads()).dropout(options.dropout())));
    } else {
      TORCH_CHECK(false, unknown_name_message("hetero expert kind", kind, hetero_expert_kinds()));
    }
  }
}

at::Tensor HeteroMoeImpl::forward(const at::Tensor& x) { return run(x, /*dense=*/false); }

at::Tensor HeteroMoeImpl::forward_dense(const at::Tensor& x) { return run(x, /*dense=*/true); }

at::Tensor HeteroMoeImpl::run(const at::Tensor& x, bool dense) {
  // One row per image: [B, T, dim].
  const at::Tensor route_input = options.route_with_cls() ? x.select(1, 0) : x.mean(1);
  const ExpertFn expert = [this](int64_t e, const at::Tensor& rows) -> at::Tensor {
    const auto& module = experts[static_cast<std::size_t>(e)];
    const std::string& kind = options.kinds()[static_cast<std::size_t>(e)];
    if (kind == "mlp") return module->as<FeedForward>()->forward(rows);
    if (kind == "conv") return module->as<TokenConv>()->forward(rows);
    return module->as<SelfAttention>()->forward(rows);
  };
  return mixture.forward(router(route_input), x, expert, is_training(), dense);
}

}  // namespace moedil::model::moe
