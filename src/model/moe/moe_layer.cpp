#include "moedil/model/moe/moe_layer.h"

#include <c10/util/Exception.h>

#include "moedil/model/moe/balance.h"
#include "moedil/model/moe/dispatch.h"

namespace moedil::model::moe {

MoeLayerImpl::MoeLayerImpl(const MoeLayerOptions& options_) : options(options_) { reset(); }

void MoeLayerImpl::reset() {
  TORCH_CHECK(options.granularity() == "token" || options.granularity() == "sample",
              "MoeLayer: granularity must be 'token' or 'sample', got '", options.granularity(),
              "'");
  router = register_module(
      "router",
      Router(RouterOptions(options.dim(), options.num_experts()).top_k(options.top_k())));
  experts = register_module("experts", torch::nn::ModuleList());
  shared_experts = register_module("shared_experts", torch::nn::ModuleList());
  const auto expert_options =
      FeedForwardOptions(options.dim(), options.hidden()).dropout(options.dropout());
  for (int64_t e = 0; e < options.num_experts(); ++e) experts->push_back(FeedForward(expert_options));
  for (int64_t e = 0; e < options.num_shared(); ++e) {
    shared_experts->push_back(FeedForward(expert_options));
  }
  train_counts_ = at::Tensor();
  eval_counts_ = at::Tensor();
}

at::Tensor MoeLayerImpl::forward(const at::Tensor& x) { return run(x, /*dense=*/false); }

at::Tensor MoeLayerImpl::forward_dense(const at::Tensor& x) { return run(x, /*dense=*/true); }

at::Tensor MoeLayerImpl::run(const at::Tensor& x, bool dense) {
  const int64_t batch = x.size(0);
  const int64_t tokens = x.size(1);
  const int64_t dim = x.size(2);
  const bool per_token = options.granularity() == "token";
  // A row is a token [dim] (token routing) or an image [T, dim] (sample routing).
  const at::Tensor rows = per_token ? x.reshape({batch * tokens, dim}) : x;
  const at::Tensor route_input =
      per_token ? rows : (options.route_with_cls() ? x.select(1, 0) : x.mean(1));
  const Routing routing = router(route_input);

  const ExpertFn expert = [this](int64_t e, const at::Tensor& r) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(r);
  };
  at::Tensor counts;
  at::Tensor out;
  if (dense) {
    out = dense_dispatch(rows, routing.expert_idx, routing.gates, options.num_experts(), expert);
    counts = at::bincount(routing.expert_idx.reshape({-1}), {}, options.num_experts());
  } else {
    out = sparse_dispatch(rows, routing.expert_idx, routing.gates, options.num_experts(), expert,
                          &counts);
  }
  out = out.reshape({batch, tokens, dim});
  for (const auto& shared : *shared_experts) out = out + shared->as<FeedForward>()->forward(x);

  at::Tensor& tally = is_training() ? train_counts_ : eval_counts_;
  tally = tally.defined() ? tally + counts : counts.clone();
  balance_loss_ = is_training() ? switch_balance_loss(routing.probs, counts) : at::Tensor();
  return out;
}

std::vector<int64_t> MoeLayerImpl::usage(bool training) const {
  const at::Tensor& tally = training ? train_counts_ : eval_counts_;
  if (!tally.defined()) return std::vector<int64_t>(static_cast<std::size_t>(options.num_experts()), 0);
  const at::Tensor cpu = tally.to(at::kCPU).contiguous();
  return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
}

void MoeLayerImpl::reset_usage(bool training) {
  (training ? train_counts_ : eval_counts_) = at::Tensor();
}

}  // namespace moedil::model::moe
