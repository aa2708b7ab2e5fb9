#include "moedil/train/fused_adamw.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/serialize.h>

#include <sstream>
#include <vector>

namespace moedil::train {
namespace {

/// Fresh leaf copies of `values`, requiring gradients.
std::vector<at::Tensor> leaves(const std::vector<at::Tensor>& values) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& v : values) out.push_back(v.clone().requires_grad_(true));
  return out;
}

/// Gives each parameter the gradient grads[step][i] and steps.
void step_with(torch::optim::Optimizer& opt, const std::vector<at::Tensor>& params,
               const std::vector<at::Tensor>& grads) {
  for (std::size_t i = 0; i < params.size(); ++i) params[i].mutable_grad() = grads[i].clone();
  opt.step();
}

/// Parameters (a large one, so the loop runs on several threads), two groups at different
/// learning rates, `steps` steps of random gradients: FusedAdamW against LibTorch's AdamW.
void expect_like_libtorch(double weight_decay, at::ScalarType type, bool exact) {
  at::manual_seed(7);
  const std::vector<at::Tensor> init{at::randn({100000}, type), at::randn({3, 5}, type),
                                     at::randn({7}, type)};
  auto ours = leaves(init);
  auto theirs = leaves(init);
  const auto options = torch::optim::AdamWOptions(1e-2).weight_decay(weight_decay);
  const auto groups = [&](const std::vector<at::Tensor>& p) {
    std::vector<torch::optim::OptimizerParamGroup> g;
    g.emplace_back(std::vector<at::Tensor>{p[0], p[1]});
    g.emplace_back(std::vector<at::Tensor>{p[2]},
                   std::make_unique<torch::optim::AdamWOptions>(
                       torch::optim::AdamWOptions(3e-3).weight_decay(weight_decay)));
    return g;
  };
  FusedAdamW fused(groups(ours), options);
  torch::optim::AdamW reference(groups(theirs), options);
  for (int s = 0; s < 5; ++s) {
    std::vector<at::Tensor> grads;
    for (const at::Tensor& t : init) grads.push_back(at::randn(t.sizes(), t.options()));
    step_with(fused, ours, grads);
    step_with(reference, theirs, grads);
  }
  for (std::size_t i = 0; i < init.size(); ++i) {
    EXPECT_FALSE(at::equal(ours[i], init[i])) << "parameter " << i << " did not move";
    if (exact) {
      EXPECT_TRUE(at::equal(ours[i], theirs[i])) << "parameter " << i;
    } else {
      EXPECT_TRUE(at::allclose(ours[i], theirs[i], 1e-5, 1e-6))
          << "parameter " << i << ": " << (ours[i] - theirs[i]).abs().max();
    }
  }
}

TEST(FusedAdamW, StepsLikeLibTorchsAdamW) {
  expect_like_libtorch(0.01, at::kFloat, false);
  expect_like_libtorch(0.0, at::kFloat, false);
}

TEST(FusedAdamW, OtherParametersTakeLibTorchsStepExactly) {
  expect_like_libtorch(0.01, at::kDouble, true);
}

TEST(FusedAdamW, SameResultOnOneThreadAndTwo) {
  const int before = at::get_num_threads();
  std::vector<at::Tensor> after;
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    at::manual_seed(8);
    auto p = leaves({at::randn({200000})});
    FusedAdamW opt(p, torch::optim::AdamWOptions(1e-2));
    for (int s = 0; s < 3; ++s) step_with(opt, p, {at::randn({200000})});
    after.push_back(p[0].detach().clone());
  }
  at::set_num_threads(before);
  EXPECT_TRUE(at::equal(after[0], after[1]));
}

TEST(FusedAdamW, AStepCountsAsAnInPlaceChange) {
  // A graph that saved the parameter before the step refuses to run backward after it, as
  // with LibTorch's AdamW, instead of using the stepped values.
  auto p = leaves({at::randn({8})});
  FusedAdamW opt(p, torch::optim::AdamWOptions(1e-2));
  const at::Tensor saved = (p[0] * p[0]).sum();  // saves p for its backward
  p[0].mutable_grad() = at::ones({8});
  opt.step();
  EXPECT_THROW(saved.backward(), c10::Error);
}

TEST(FusedAdamW, StateMovesBetweenItAndLibTorchsAdamW) {
  // A checkpoint written by one loads into the other, and both continue alike.
  at::manual_seed(9);
  const at::Tensor init = at::randn({50});
  auto p = leaves({init});
  FusedAdamW fused(p, torch::optim::AdamWOptions(1e-2));
  for (int s = 0; s < 3; ++s) step_with(fused, p, {at::randn({50})});
  std::stringstream saved;
  {
    torch::serialize::OutputArchive archive;
    fused.save(archive);
    archive.save_to(saved);
  }
  auto q = leaves({p[0].detach()});
  torch::optim::AdamW plain(q, torch::optim::AdamWOptions(1e-2));
  {
    torch::serialize::InputArchive archive;
    archive.load_from(saved);
    plain.load(archive);
  }
  const at::Tensor g = at::randn({50});
  step_with(fused, p, {g});
  step_with(plain, q, {g});
  EXPECT_TRUE(at::allclose(p[0], q[0], 1e-6, 1e-7)) << (p[0] - q[0]).abs().max();
}

}  // namespace
}  // namespace moedil::train
