#include "moedil/model/moe/moe_layer.h"

#include "moedil/common/error.h"

#include <algorithm>

#include <c10/util/Exception.h>

#include "moedil/common/suggest.h"
#include "moedil/model/moe/balance.h"
#include "moedil/model/moe/capacity.h"
#include "moedil/model/moe/dispatch.h"

namespace moedil::model::moe {

MoeLayerImpl::MoeLayerImpl(const MoeLayerOptions& options_) : options(options_) { reset(); }

void MoeLayerImpl::reset() {
  TORCH_CHECK(options.granularity() == "token" || options.granularity() == "sample",
              "MoeLayer: granularity must be 'token' or 'sample', got '", options.granularity(),
              "'");
  TORCH_CHECK(options.routing() == "token_choice" || options.routing() == "expert_choice",
              "MoeLayer: routing must be 'token_choice' or 'expert_choice', got '",
              options.routing(), "'");
  TORCH_CHECK(options.capacity_factor() >= 0.0, "MoeLayer: capacity_factor ",
              options.capacity_factor(), " must be >= 0 (0 = unlimited)");
  for (const auto& [name, weight] : options.balance_losses()) {
    const auto& names = balance_loss_names();
    TORCH_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
                unknown_name_message("balance loss", name, names));
    TORCH_CHECK(weight >= 0.0, "MoeLayer: balance loss '", name, "' weight ", weight,
                " must be >= 0");
  }
  router = register_module("router", Router(RouterOptions(options.dim(), options.num_experts())
                                                .top_k(options.top_k())
                                                .noise_std(options.noise_std())
                                                .expert_dropout(options.expert_dropout())));
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
  dropped_[0] = dropped_[1] = rows_[0] = rows_[1] = 0;
  entropy_sum_[0] = entropy_sum_[1] = at::Tensor();
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
  Routing routing = router(route_input);
  const bool forced = forced_expert_ >= 0;
  if (forced) {
    const int64_t n = route_input.size(0);
    routing.expert_idx = at::full({n, 1}, forced_expert_, routing.expert_idx.options());
    routing.gates = options.top_k() == 1
                        ? routing.probs.select(1, forced_expert_).unsqueeze(1)
                        : at::ones({n, 1}, routing.gates.options());
  }

  const ExpertFn expert = [this](int64_t e, const at::Tensor& r) {
    return experts[static_cast<std::size_t>(e)]->as<FeedForward>()->forward(r);
  };
  const int64_t num_rows = route_input.size(0);
  const int64_t num_experts = options.num_experts();
  at::Tensor counts;  // assignments per expert as routed (before capacity): balance losses
  at::Tensor used;    // assignments per expert actually run: usage
  at::Tensor out;
  int64_t dropped = 0;
  const bool expert_choice_routing = options.routing() == "expert_choice";
  if (forced || (!expert_choice_routing && options.capacity_factor() <= 0.0)) {
    // Plain token choice: every row gets its k experts.
    if (dense) {
      out = dense_dispatch(rows, routing.expert_idx, routing.gates, num_experts, expert);
      counts = at::bincount(routing.expert_idx.reshape({-1}), {}, num_experts);
    } else {
      out = sparse_dispatch(rows, routing.expert_idx, routing.gates, num_experts, expert,
                            &counts);
    }
    used = counts;
  } else {
    const int64_t capacity = expert_capacity(
        expert_choice_routing && options.capacity_factor() <= 0.0 ? 1.0 : options.capacity_factor(),
        num_rows, options.top_k(), num_experts);
    const Assignments a =
        expert_choice_routing
            ? expert_choice(routing.probs, capacity, routing.available)
            : token_choice(routing.expert_idx, routing.gates, num_experts, capacity);
    if (dense) {
      // Every expert on every row, weighted by its summed gates (zero where not assigned).
      const at::Tensor weights = at::zeros({num_rows, num_experts}, a.gates.options())
                                     .index_put({a.rows, a.experts}, a.gates, /*accumulate=*/true);
      const at::Tensor all = at::arange(num_experts, routing.expert_idx.options())
                                 .unsqueeze(0)
                                 .expand({num_rows, num_experts});
      out = dense_dispatch(rows, all, weights, num_experts, expert);
      used = at::bincount(a.experts, {}, num_experts);
    } else {
      out = dispatch_assignments(rows, a.rows, a.experts, a.gates, num_experts, expert, &used);
    }
    counts = expert_choice_routing
                 ? used
                 : at::bincount(routing.expert_idx.reshape({-1}), {}, num_experts);
    dropped = count_dropped_rows(a, num_rows);
  }
  out = out.reshape({batch, tokens, dim});
  for (const auto& shared : *shared_experts) out = out + shared->as<FeedForward>()->forward(x);

  const int mode = is_training() ? 1 : 0;
  at::Tensor& tally = is_training() ? train_counts_ : eval_counts_;
  tally = tally.defined() ? tally + used : used.clone();
  dropped_[mode] += dropped;
  rows_[mode] += num_rows;
  {
    const at::Tensor p = routing.probs.detach();
    const at::Tensor entropy = -(p * p.clamp_min(1e-12).log()).sum();
    at::Tensor& sum = entropy_sum_[mode];
    sum = sum.defined() ? sum + entropy : entropy;
  }
  balance_loss_ = is_training() ? weighted_balance_loss(options.balance_losses(), routing.probs,
                                                        counts, routing.logits)
                                : at::Tensor();
  return out;
}

void MoeLayerImpl::force_expert(int64_t e) {
  if (e < -1 || e >= options.num_experts()) {
    throw UsageError("expert " + std::to_string(e) + " does not exist: the layer has experts 0.." +
                     std::to_string(options.num_experts() - 1));
  }
  forced_expert_ = e;
}

std::vector<int64_t> MoeLayerImpl::usage(bool training) const {
  const at::Tensor& tally = training ? train_counts_ : eval_counts_;
  if (!tally.defined()) return std::vector<int64_t>(static_cast<std::size_t>(options.num_experts()), 0);
  const at::Tensor cpu = tally.to(at::kCPU).contiguous();
  return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
}

void MoeLayerImpl::reset_usage(bool training) {
  (training ? train_counts_ : eval_counts_) = at::Tensor();
  dropped_[training ? 1 : 0] = 0;
  rows_[training ? 1 : 0] = 0;
  entropy_sum_[training ? 1 : 0] = at::Tensor();
}

double MoeLayerImpl::dropped_fraction(bool training) const {
  const int mode = training ? 1 : 0;
  if (rows_[mode] == 0) return 0.0;
  return static_cast<double>(dropped_[mode]) / static_cast<double>(rows_[mode]);
}

double MoeLayerImpl::routing_entropy(bool training) const {
  const int mode = training ? 1 : 0;
  if (rows_[mode] == 0 || !entropy_sum_[mode].defined()) return 0.0;
  return entropy_sum_[mode].item<double>() / static_cast<double>(rows_[mode]);
}

}  // namespace moedil::model::moe
