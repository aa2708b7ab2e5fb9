#include "moedil/model/moe/mixture.h"

#include <algorithm>

#include <c10/util/Exception.h>

#include "moedil/common/error.h"
#include "moedil/common/suggest.h"
#include "moedil/model/moe/balance.h"
#include "moedil/model/moe/capacity.h"

namespace moedil::model::moe {

Mixture::Mixture(MixtureOptions options) : options_(std::move(options)) {
  TORCH_CHECK(options_.num_experts() > 0, "Mixture: num_experts must be > 0");
  TORCH_CHECK(options_.top_k() >= 1 && options_.top_k() <= options_.num_experts(),
              "Mixture: top_k ", options_.top_k(), " must be in [1, num_experts ",
              options_.num_experts(), "]");
  TORCH_CHECK(options_.routing() == "token_choice" || options_.routing() == "expert_choice",
              "Mixture: routing must be 'token_choice' or 'expert_choice', got '",
              options_.routing(), "'");
  TORCH_CHECK(options_.capacity_factor() >= 0.0, "Mixture: capacity_factor ",
              options_.capacity_factor(), " must be >= 0 (0 = unlimited)");
  for (const auto& [name, weight] : options_.balance_losses()) {
    TORCH_CHECK(balance_loss_registry().find(name) != nullptr,
                unknown_name_message("balance loss", name, balance_loss_registry().names()));
    TORCH_CHECK(weight >= 0.0, "Mixture: balance loss '", name, "' weight ", weight,
                " must be >= 0");
  }
}

at::Tensor Mixture::forward(const Routing& routing_in, const at::Tensor& rows,
                            const ExpertFn& expert_in, bool training, bool dense) {
  if (!training && recording_ && UsageCapture::active() != nullptr) {
    throw UsageError("Mixture: the gates of a forward under a UsageCapture cannot be recorded "
                     "(evaluate one batch at a time while recording)");
  }
  Routing routing = routing_in;
  // Some balance losses (output_variance) need each expert's mean output: collect them as the
  // experts run.
  std::vector<at::Tensor> expert_means;
  const bool want_means = training && needs_expert_means(options_.balance_losses());
  const ExpertFn expert = !want_means ? expert_in : [&](int64_t e, const at::Tensor& r) {
    at::Tensor y = expert_in(e, r);
    if (y.size(0) > 0) expert_means.push_back(y.reshape({y.size(0), -1}).mean(0));
    return y;
  };
  const int64_t num_rows = routing.probs.size(0);
  const int64_t num_experts = options_.num_experts();
  const bool forced = forced_expert_ >= 0;
  if (forced) {
    routing.expert_idx = at::full({num_rows, 1}, forced_expert_, routing.expert_idx.options());
    routing.gates = options_.top_k() == 1 && !options_.unit_forced_gate()
                        ? routing.probs.select(1, forced_expert_).unsqueeze(1)
                        : at::ones({num_rows, 1}, routing.probs.options());
  }
  at::Tensor counts;  // assignments per expert as routed (before capacity): balance losses
  at::Tensor used;    // assignments per expert actually run: usage
  at::Tensor out;
  at::Tensor dropped;  // rows with no assignment, on the device (read only when reported)
  const bool expert_choice_routing = options_.routing() == "expert_choice";
  const auto record = [&](const at::Tensor& row, const at::Tensor& expert_of, const at::Tensor& gate) {
    if (!recording_) return;
    recorded_.push_back(at::zeros({num_rows, num_experts}, gate.options().dtype(at::kFloat))
                            .index_put({row, expert_of}, gate.detach().to(at::kFloat),
                                       /*accumulate=*/true));
  };
  if (forced || (!expert_choice_routing && options_.capacity_factor() <= 0.0)) {
    // Plain token choice: every row gets its k experts.
    if (recording_) {
      const int64_t k = routing.expert_idx.size(1);
      const at::Tensor row = at::arange(num_rows, routing.expert_idx.options());
      record(k == 1 ? row : row.repeat_interleave(k), routing.expert_idx.reshape({-1}),
             routing.gates.reshape({-1}));
    }
    if (dense) {
      out = dense_dispatch(rows, routing.expert_idx, routing.gates, num_experts, expert);
      counts = at::bincount(routing.expert_idx.reshape({-1}), {}, num_experts);
    } else {
      out = sparse_dispatch(rows, routing.expert_idx, routing.gates, num_experts, expert,
                            &counts);
    }
    used = counts;
  } else {
    const double factor = expert_choice_routing && options_.capacity_factor() <= 0.0
                              ? 1.0
                              : options_.capacity_factor();
    const int64_t capacity = expert_capacity(factor, num_rows, options_.top_k(), num_experts);
    const Assignments a =
        expert_choice_routing
            ? expert_choice(routing.probs, capacity, routing.available)
            : token_choice(routing.expert_idx, routing.gates, num_experts, capacity);
    record(a.rows, a.experts, a.gates);
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
    dropped = at::bincount(a.rows, {}, num_rows).eq(0).sum();
  }

  UsageDelta delta;
  delta.used = used;
  delta.dropped = dropped;
  delta.rows = num_rows;
  {
    const at::Tensor p = routing.probs.detach();
    delta.entropy = -(p * p.clamp_min(1e-12).log()).sum();
  }
  if (UsageCapture* capture = UsageCapture::active(); capture != nullptr && !training) {
    capture->add(this, std::move(delta));  // leaves every member as it is (another thread's)
    return out;
  }
  add_usage(training, delta);
  if (training) selection_ = selection_.defined() ? selection_ + used : used.clone();
  balance_loss_ = training ? weighted_balance_loss(options_.balance_losses(), routing.probs,
                                                   counts, routing.logits,
                                                   expert_means.empty() ? at::Tensor()
                                                                        : at::stack(expert_means))
                           : at::Tensor();
  return out;
}

std::vector<at::Tensor> Mixture::take_recorded() {
  std::vector<at::Tensor> out;
  out.swap(recorded_);
  return out;
}

void Mixture::force_expert(int64_t e) {
  if (e < -1 || e >= options_.num_experts()) {
    throw UsageError("expert " + std::to_string(e) + " does not exist: the layer has experts 0.." +
                     std::to_string(options_.num_experts() - 1));
  }
  forced_expert_ = e;
}

void Mixture::add_usage(bool training, const UsageDelta& delta) {
  const int mode = training ? 1 : 0;
  at::Tensor& tally = counts_[mode];
  tally = tally.defined() ? tally + delta.used : delta.used.clone();
  if (delta.dropped.defined()) {
    dropped_[mode] = dropped_[mode].defined() ? dropped_[mode] + delta.dropped : delta.dropped;
  }
  rows_[mode] += delta.rows;
  if (!training) balance_loss_ = at::Tensor();  // as after the evaluation forward itself
  at::Tensor& sum = entropy_sum_[mode];
  sum = sum.defined() ? sum + delta.entropy : delta.entropy;
}

std::vector<int64_t> Mixture::usage(bool training) const {
  const at::Tensor& tally = counts_[training ? 1 : 0];
  if (!tally.defined()) return std::vector<int64_t>(static_cast<std::size_t>(options_.num_experts()), 0);
  const at::Tensor cpu = tally.to(at::kCPU).contiguous();
  return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
}

void Mixture::reset_usage(bool training) {
  const int mode = training ? 1 : 0;
  counts_[mode] = at::Tensor();
  dropped_[mode] = at::Tensor();
  rows_[mode] = 0;
  entropy_sum_[mode] = at::Tensor();
}

double Mixture::dropped_fraction(bool training) const {
  const int mode = training ? 1 : 0;
  if (rows_[mode] == 0) return 0.0;
  if (!dropped_[mode].defined()) return 0.0;
  return static_cast<double>(dropped_[mode].item<int64_t>()) / static_cast<double>(rows_[mode]);
}

double Mixture::routing_entropy(bool training) const {
  const int mode = training ? 1 : 0;
  if (rows_[mode] == 0 || !entropy_sum_[mode].defined()) return 0.0;
  return entropy_sum_[mode].item<double>() / static_cast<double>(rows_[mode]);
}

at::Tensor Mixture::selection_counts() const {
  if (!selection_.defined()) return at::zeros({options_.num_experts()}, at::kLong);
  return selection_;
}

void Mixture::reset_selection_counts() { selection_ = at::Tensor(); }

}  // namespace moedil::model::moe
