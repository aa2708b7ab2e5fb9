#include "moedil/train/fused_adamw.h"

#include <ATen/Parallel.h>
#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>

namespace moedil::train {

namespace {

/// The key of a parameter's state in Optimizer::state_: its TensorImpl's address, as text in
/// LibTorch 1.x (c10::guts::to_string, which streams the pointer), the pointer itself in 2.x.
template <typename Key>
Key state_key(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(p.unsafeGetTensorImpl());
    return text.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

bool fusable(const at::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat &&
         t.layout() == at::kStrided && t.is_contiguous() && !t.is_sparse();
}

}  // namespace

at::Tensor FusedAdamW::step(LossClosure closure) {
  // Every parameter with a gradient must fit the loop; otherwise LibTorch's step does all.
  for (const auto& group : param_groups_) {
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) {
      return AdamW::step(closure);
    }
    for (const auto& p : group.params()) {
      if (p.grad().defined() && !(fusable(p) && fusable(p.grad()))) return AdamW::step(closure);
    }
  }
  at::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      const Key key = state_key<Key>(p);
      auto found = state_.find(key);
      if (found == state_.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(at::zeros_like(p, at::MemoryFormat::Preserve));
        fresh->exp_avg_sq(at::zeros_like(p, at::MemoryFormat::Preserve));
        found = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*found->second);
      if (!fusable(state.exp_avg()) || !fusable(state.exp_avg_sq())) {
        // A state loaded from elsewhere in another layout: make it the parameter's.
        state.exp_avg(state.exp_avg().to(p.options()).contiguous());
        state.exp_avg_sq(state.exp_avg_sq().to(p.options()).contiguous());
      }
      state.step(state.step() + 1);
      const double beta1 = std::get<0>(options.betas());
      const double beta2 = std::get<1>(options.betas());
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
      // The scalars as LibTorch's kernels see them: converted to float once.
      const bool decay = options.weight_decay() != 0;
      const auto keep = static_cast<float>(1 - options.lr() * options.weight_decay());
      const auto b1 = static_cast<float>(beta1);
      const auto one_minus_b1 = static_cast<float>(1 - beta1);
      const auto b2 = static_cast<float>(beta2);
      const auto one_minus_b2 = static_cast<float>(1 - beta2);
      const auto sqrt_bc2 = static_cast<float>(std::sqrt(bias_correction2));
      const auto eps = static_cast<float>(options.eps());
      const auto neg_step = static_cast<float>(-(options.lr() / bias_correction1));

      float* param = p.data_ptr<float>();
      const float* grad = p.grad().data_ptr<float>();
      float* m = state.exp_avg().data_ptr<float>();
      float* v = state.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, p.numel(), 32768, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          float x = param[i];
          if (decay) x = x * keep;
          const float g = grad[i];
          const float mi = m[i] * b1 + one_minus_b1 * g;
          const float vi = v[i] * b2 + one_minus_b2 * g * g;
          m[i] = mi;
          v[i] = vi;
          const float denom = std::sqrt(vi) / sqrt_bc2 + eps;
          param[i] = x + (neg_step * mi) / denom;  // addcdiv_: p + (value * m) / denom
        }
      });
      // As LibTorch's in-place ops do: a graph that saved p before this step now refuses to
      // run backward instead of using the new values.
      p.unsafeGetTensorImpl()->bump_version();
    }
  }
  return loss;
}

}  // namespace moedil::train
