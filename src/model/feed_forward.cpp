#include "moedil/model/feed_forward.h"

#include <ATen/Functions.h>
#include <c10/util/Exception.h>

#include "moedil/model/linear.h"

namespace moedil::model {

FeedForwardImpl::FeedForwardImpl(const FeedForwardOptions& options_) : options(options_) {
  reset();
}

void FeedForwardImpl::reset() {
  TORCH_CHECK(options.dim() > 0 && options.hidden() > 0, "FeedForward: dim and hidden must be > 0");
  fc1 = register_module("fc1", torch::nn::Linear(options.dim(), options.hidden()));
  fc2 = register_module("fc2", torch::nn::Linear(options.hidden(), options.dim()));
  drop = register_module("drop", torch::nn::Dropout(options.dropout()));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x) {
  return drop(apply_linear(*fc2, drop(apply_linear_gelu(*fc1, x))));
}

at::Tensor FeedForwardImpl::add_forward(const at::Tensor& x, const at::Tensor& residual) {
  if (is_training() && options.dropout() > 0.0) return residual + forward(x);
  return apply_linear_residual(*fc2, apply_linear_gelu(*fc1, x), residual);
}

}  // namespace moedil::model
