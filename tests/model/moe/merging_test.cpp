#include "moedil/model/moe/merging.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <stdexcept>

#include "moedil/train/optimizer.h"

namespace moedil::model::moe {
namespace {

TEST(ChooseMergeTest, LeastSelectedIsTargetTwoMostSelectedAreSources) {
  const MergeChoice c = choose_merge({5, 1, 9, 7});
  EXPECT_EQ(c.target, 1);
  EXPECT_EQ(c.first, 2);
  EXPECT_EQ(c.second, 3);
}

TEST(ChooseMergeTest, TiesAreBrokenDeterministically) {
  // Least: the highest index among the tied minima; sources: the lowest indices among ties.
  const MergeChoice c = choose_merge({3, 3, 3, 3});
  EXPECT_EQ(c.target, 3);
  EXPECT_EQ(c.first, 0);
  EXPECT_EQ(c.second, 1);
  const MergeChoice d = choose_merge({0, 8, 0, 8, 2});
  EXPECT_EQ(d.target, 2);
  EXPECT_EQ(d.first, 1);
  EXPECT_EQ(d.second, 3);
}

TEST(ChooseMergeTest, FewerThanThreeExpertsIsAnError) {
  EXPECT_THROW(choose_merge({4, 2}), std::invalid_argument);
}

/// Three Linear(2, 1) experts with hand-set weights.
torch::nn::ModuleList hand_experts() {
  torch::nn::ModuleList experts;
  const float values[3][3] = {{1, 2, 3}, {10, 20, 30}, {-4, 0, 8}};  // w0, w1, bias
  for (const auto& v : values) {
    torch::nn::Linear l(2, 1);
    torch::NoGradGuard no_grad;
    l->weight.copy_(at::tensor({v[0], v[1]}).reshape({1, 2}));
    l->bias.copy_(at::tensor({v[2]}));
    experts->push_back(l);
  }
  return experts;
}

TEST(MergeExpertsTest, TargetBecomesTheMeanOfTheSourcesOthersUntouched) {
  torch::nn::ModuleList experts = hand_experts();
  const std::vector<at::Tensor> replaced = merge_experts(experts, {2, 0, 1});
  const auto w = [&](std::size_t e) { return experts[e]->as<torch::nn::Linear>()->weight; };
  const auto b = [&](std::size_t e) { return experts[e]->as<torch::nn::Linear>()->bias; };
  EXPECT_TRUE(w(2).equal(at::tensor({5.5f, 11.0f}).reshape({1, 2})));
  EXPECT_TRUE(b(2).equal(at::tensor({16.5f})));
  EXPECT_TRUE(w(0).equal(at::tensor({1.0f, 2.0f}).reshape({1, 2})));
  EXPECT_TRUE(w(1).equal(at::tensor({10.0f, 20.0f}).reshape({1, 2})));
  ASSERT_EQ(replaced.size(), 2u);
  EXPECT_TRUE(replaced[0].is_same(w(2)));
  EXPECT_TRUE(replaced[1].is_same(b(2)));
}

TEST(MergeExpertsTest, FloatBuffersAreAveragedIntegerBuffersCopied) {
  torch::nn::ModuleList experts;
  for (int e = 0; e < 3; ++e) {
    torch::nn::BatchNorm1d bn(2);
    torch::NoGradGuard no_grad;
    bn->running_mean.fill_(static_cast<double>(e) * 2.0);
    bn->num_batches_tracked.fill_(e + 10);
    experts->push_back(bn);
  }
  merge_experts(experts, {0, 1, 2});
  const auto bn = experts[0]->as<torch::nn::BatchNorm1d>();
  EXPECT_TRUE(bn->running_mean.equal(at::full({2}, 3.0)));  // (2 + 4) / 2
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 11);   // copied from the first source
}

TEST(MergeExpertsTest, MergeableOnlyWhenArchitecturesMatch) {
  EXPECT_TRUE(experts_mergeable(hand_experts()));
  torch::nn::ModuleList mixed = hand_experts();
  mixed->push_back(torch::nn::Linear(3, 1));
  EXPECT_FALSE(experts_mergeable(mixed));
}

TEST(ResetOptimizerStateTest, DropsOnlyTheGivenParametersState) {
  for (const bool adam : {true, false}) {
    torch::nn::ModuleList experts = hand_experts();
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (adam) {
      opt = std::make_unique<torch::optim::Adam>(experts->parameters(),
                                                 torch::optim::AdamOptions(0.1));
    } else {
      opt = std::make_unique<torch::optim::SGD>(experts->parameters(),
                                                torch::optim::SGDOptions(0.1).momentum(0.9));
    }
    const at::Tensor x = at::ones({4, 2});
    at::Tensor loss;
    for (std::size_t e = 0; e < 3; ++e) {
      const at::Tensor y = experts[e]->as<torch::nn::Linear>()->forward(x).sum();
      loss = loss.defined() ? loss + y : y;
    }
    opt->zero_grad();
    loss.backward();
    opt->step();
    ASSERT_EQ(opt->state().size(), 6u) << "every parameter has state after a step";
    const std::vector<at::Tensor> target = experts[1]->parameters();
    EXPECT_EQ(train::reset_optimizer_state(*opt, target), 2);
    EXPECT_EQ(opt->state().size(), 4u);
    EXPECT_EQ(train::reset_optimizer_state(*opt, target), 0) << "already gone";
  }
}

}  // namespace
}  // namespace moedil::model::moe
