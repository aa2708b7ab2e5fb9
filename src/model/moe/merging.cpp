#include "moedil/model/moe/merging.h"

#include <stdexcept>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace moedil::model::moe {

MergeChoice choose_merge(const std::vector<int64_t>& counts) {
  const auto n = static_cast<int64_t>(counts.size());
  if (n < 3) {
    throw std::invalid_argument("expert merging needs at least 3 experts, the layer has " +
                                std::to_string(n));
  }
  MergeChoice c;
  c.target = 0;
  for (int64_t e = 1; e < n; ++e) {
    if (counts[e] <= counts[c.target]) c.target = e;  // ties: the highest index
  }
  for (int64_t e = 0; e < n; ++e) {
    if (e == c.target) continue;
    if (c.first < 0 || counts[e] > counts[c.first]) {
      c.second = c.first;
      c.first = e;
    } else if (c.second < 0 || counts[e] > counts[c.second]) {
      c.second = e;
    }
  }
  return c;
}

bool experts_mergeable(const torch::nn::ModuleList& experts) {
  if (experts->size() < 2) return true;
  const auto signature = [](const torch::nn::Module& m) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value().sizes().vec());
    for (const auto& b : m.named_buffers()) out.emplace_back(b.key(), b.value().sizes().vec());
    return out;
  };
  const auto first = signature(*experts->ptr(0));
  for (std::size_t e = 1; e < experts->size(); ++e) {
    if (signature(*experts->ptr(e)) != first) return false;
  }
  return true;
}

std::vector<at::Tensor> merge_experts(torch::nn::ModuleList& experts, const MergeChoice& choice) {
  const auto at = [&](int64_t e) { return experts[static_cast<std::size_t>(e)]; };
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> target_params = at(choice.target)->parameters();
  const std::vector<at::Tensor> a = at(choice.first)->parameters();
  const std::vector<at::Tensor> b = at(choice.second)->parameters();
  for (std::size_t i = 0; i < target_params.size(); ++i) {
    target_params[i].copy_((a[i] + b[i]) * 0.5);
  }
  std::vector<at::Tensor> target_buffers = at(choice.target)->buffers();
  const std::vector<at::Tensor> ba = at(choice.first)->buffers();
  const std::vector<at::Tensor> bb = at(choice.second)->buffers();
  for (std::size_t i = 0; i < target_buffers.size(); ++i) {
    if (at::isFloatingType(target_buffers[i].scalar_type())) {
      target_buffers[i].copy_((ba[i] + bb[i]) * 0.5);
    } else {
      target_buffers[i].copy_(ba[i]);
    }
  }
  return target_params;
}

}  // namespace moedil::model::moe
