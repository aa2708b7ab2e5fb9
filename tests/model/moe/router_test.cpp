#include "moedil/model/moe/router.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace moedil::model::moe {
namespace {

constexpr int64_t kDim = 3;
constexpr int64_t kExperts = 4;
constexpr int64_t kRows = 7;

Router make_router(int64_t k, uint64_t seed) {
  at::manual_seed(seed);
  Router router(RouterOptions(kDim, kExperts).top_k(k));
  // Larger logits than the default init, so the probabilities are clearly distinct.
  {
    at::NoGradGuard no_grad;
    router->gate->weight.mul_(4.0);
  }
  return router;
}

class RouterTopKTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(RouterTopKTest, ProbsExpertIdxAndGatesMatchHandComputation) {
  const int64_t k = GetParam();
  Router router = make_router(k, 21 + k);
  at::manual_seed(1);
  const at::Tensor rows = at::randn({kRows, kDim});
  const Routing r = router(rows);

  ASSERT_EQ(r.probs.sizes().vec(), (std::vector<int64_t>{kRows, kExperts}));
  ASSERT_EQ(r.expert_idx.sizes().vec(), (std::vector<int64_t>{kRows, k}));
  ASSERT_EQ(r.gates.sizes().vec(), (std::vector<int64_t>{kRows, k}));
  EXPECT_EQ(r.expert_idx.scalar_type(), at::kLong);

  // probs = softmax(rows W^T + b) by hand.
  at::NoGradGuard no_grad;
  const at::Tensor logits = rows.matmul(router->gate->weight.t()) + router->gate->bias;
  const at::Tensor expected_probs = logits.exp() / logits.exp().sum(1, /*keepdim=*/true);
  EXPECT_TRUE(at::allclose(r.probs, expected_probs, 1e-5, 1e-6));

  for (int64_t row = 0; row < kRows; ++row) {
    std::vector<double> p(kExperts);
    double sum = 0.0;
    for (int64_t e = 0; e < kExperts; ++e) {
      p[e] = r.probs[row][e].item<double>();
      EXPECT_GE(p[e], 0.0);
      sum += p[e];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << row;

    // The k most probable experts, most probable first.
    std::vector<int64_t> order(kExperts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
    for (int64_t j = 0; j < k; ++j) {
      EXPECT_EQ(r.expert_idx[row][j].item<int64_t>(), order[j]) << "row " << row << " slot " << j;
    }

    if (k == 1) {
      // Raw probability of the chosen expert (no renormalisation).
      EXPECT_NEAR(r.gates[row][0].item<double>(), p[order[0]], 1e-6) << "row " << row;
      EXPECT_LT(r.gates[row][0].item<double>(), 1.0);
    } else {
      double gate_sum = 0.0;
      double top_sum = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        gate_sum += r.gates[row][j].item<double>();
        top_sum += p[order[j]];
      }
      EXPECT_NEAR(gate_sum, 1.0, 1e-5) << "row " << row;
      for (int64_t j = 0; j < k; ++j) {
        EXPECT_NEAR(r.gates[row][j].item<double>(), p[order[j]] / top_sum, 1e-5);
      }
      // Ratio of the two gates is the ratio of the two probabilities.
      EXPECT_NEAR(r.gates[row][0].item<double>() / r.gates[row][1].item<double>(),
                  p[order[0]] / p[order[1]], 1e-4)
          << "row " << row;
    }
  }
}

TEST_P(RouterTopKTest, RouterReceivesGradientThroughGatesMatchingFiniteDifferences) {
  const int64_t k = GetParam();
  Router router = make_router(k, 31 + k);
  router->to(at::kDouble);
  at::manual_seed(2);
  const at::Tensor rows = at::randn({kRows, kDim}, at::kDouble);
  // A weighted sum: with k = 2 the plain sum of the gates is constant (1 per row).
  const at::Tensor w = at::randn({kRows, k}, at::kDouble);
  auto loss_of = [&]() { return (router(rows).gates * w).sum(); };

  router->zero_grad();
  loss_of().backward();
  const at::Tensor grad = router->gate->weight.grad().clone();
  const at::Tensor grad_b = router->gate->bias.grad().clone();
  ASSERT_TRUE(grad.defined());
  EXPECT_GT(grad.abs().sum().item<double>(), 1e-6);
  EXPECT_GT(grad_b.abs().sum().item<double>(), 1e-6);

  // Central differences on every weight entry (the selected experts do not change for eps).
  const double eps = 1e-6;
  at::NoGradGuard no_grad;
  const at::Tensor weight = router->gate->weight;
  for (int64_t e = 0; e < kExperts; ++e) {
    for (int64_t d = 0; d < kDim; ++d) {
      const double orig = weight[e][d].item<double>();
      weight[e][d].fill_(orig + eps);
      const double up = loss_of().item<double>();
      weight[e][d].fill_(orig - eps);
      const double down = loss_of().item<double>();
      weight[e][d].fill_(orig);
      EXPECT_NEAR(grad[e][d].item<double>(), (up - down) / (2 * eps), 1e-6)
          << "weight[" << e << "][" << d << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TopK, RouterTopKTest, ::testing::Values<int64_t>(1, 2),
                         [](const auto& info) { return "k" + std::to_string(info.param); });

TEST(RouterTest, TopKEqualToNumExpertsSelectsAllInProbabilityOrder) {
  at::manual_seed(4);
  Router router(RouterOptions(kDim, 3).top_k(3));
  const Routing r = router(at::randn({5, kDim}));
  const at::Tensor sorted_idx = std::get<1>(r.probs.sort(1, /*descending=*/true));
  EXPECT_TRUE(at::equal(r.expert_idx, sorted_idx));
  EXPECT_TRUE(at::allclose(r.gates, std::get<0>(r.probs.sort(1, true)), 1e-5, 1e-6));
}

TEST(RouterTest, InvalidTopKThrows) {
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).top_k(0)), c10::Error);
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).top_k(-1)), c10::Error);
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).top_k(kExperts + 1)), c10::Error);
  EXPECT_THROW(Router(RouterOptions(kDim, 0)), c10::Error);
  EXPECT_NO_THROW(Router(RouterOptions(kDim, kExperts).top_k(kExperts)));
  EXPECT_NO_THROW(Router(RouterOptions(kDim, kExperts).top_k(1)));
}

}  // namespace
}  // namespace moedil::model::moe
