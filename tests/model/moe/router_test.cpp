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

TEST(RouterTest, LogitsAreTheCleanGateOutput) {
  at::manual_seed(5);
  Router router(RouterOptions(kDim, kExperts).noise_std(1.0));
  const at::Tensor rows = at::randn({kRows, kDim});
  const Routing r = router(rows);  // training: noisy probabilities, clean logits
  at::NoGradGuard no_grad;
  const at::Tensor expected = rows.matmul(router->gate->weight.t()) + router->gate->bias;
  EXPECT_TRUE(at::allclose(r.logits, expected, 1e-5, 1e-6));
  EXPECT_FALSE(at::allclose(r.probs, at::softmax(expected, 1), 1e-3, 1e-3));
}

TEST(RouterTest, NoiseOnlyInTrainingAndMatchesTheGeneratorDraw) {
  Router router = make_router(2, 41);
  router->options.noise_std(0.5);
  at::manual_seed(3);
  const at::Tensor rows = at::randn({kRows, kDim});
  at::Tensor clean;
  {
    at::NoGradGuard no_grad;
    clean = rows.matmul(router->gate->weight.t()) + router->gate->bias;
  }
  // Training: probs = softmax(logits + 0.5 * randn) with the generator's next draw.
  at::manual_seed(77);
  const at::Tensor noise = at::randn({kRows, kExperts});
  at::manual_seed(77);
  const Routing noisy = router(rows);
  EXPECT_TRUE(at::allclose(noisy.probs, at::softmax(clean + 0.5 * noise, 1), 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(noisy.expert_idx,
                        std::get<1>(at::softmax(clean + 0.5 * noise, 1).topk(2, 1))));
  // Evaluation: no noise, whatever the generator state.
  router->eval();
  at::manual_seed(77);
  const Routing eval = router(rows);
  EXPECT_TRUE(at::allclose(eval.probs, at::softmax(clean, 1), 1e-5, 1e-6));
}

TEST(RouterTest, ExpertDropoutOnlyInTrainingAndKeepsAtLeastKExperts) {
  at::manual_seed(6);
  Router router(RouterOptions(kDim, kExperts).top_k(2).expert_dropout(0.9));
  const at::Tensor rows = at::randn({kRows, kDim});
  int64_t steps_with_dropped = 0;
  for (int step = 0; step < 20; ++step) {
    at::manual_seed(100 + step);
    const at::Tensor available = router->draw_available();
    EXPECT_GE(available.sum().item<int64_t>(), 2);
    at::manual_seed(100 + step);
    const Routing r = router(rows);
    for (int64_t e = 0; e < kExperts; ++e) {
      if (available[e].item<bool>()) continue;
      // An unavailable expert gets probability 0 and is chosen by no row.
      EXPECT_EQ(r.probs.select(1, e).abs().max().item<double>(), 0.0) << "expert " << e;
      EXPECT_FALSE(r.expert_idx.eq(e).any().item<bool>()) << "expert " << e;
    }
    if (available.logical_not().any().item<bool>()) ++steps_with_dropped;
  }
  EXPECT_GT(steps_with_dropped, 15);  // p = 0.9: nearly every step drops experts

  router->eval();
  const Routing r = router(rows);
  EXPECT_TRUE(r.probs.gt(0).all().item<bool>());  // every expert available in evaluation
  at::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(r.probs, at::softmax(r.logits, 1), 1e-6, 1e-7));
}

TEST(RouterTest, InvalidNoiseAndExpertDropoutThrow) {
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).noise_std(-0.1)), c10::Error);
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).expert_dropout(1.0)), c10::Error);
  EXPECT_THROW(Router(RouterOptions(kDim, kExperts).expert_dropout(-0.1)), c10::Error);
  EXPECT_NO_THROW(Router(RouterOptions(kDim, kExperts).expert_dropout(0.5).noise_std(1.0)));
}

}  // namespace
}  // namespace moedil::model::moe

namespace moedil::model::moe {
namespace {

// The predecessor's vit_moe gate: the chosen experts' probabilities over their sum, so a top-1
// gate is exactly 1 and the task loss sends the router no gradient; Switch's top-1 gate is the
// probability itself, which does.
TEST(RouterTest, RenormalizedTop1GateIsOneAndTrainsNoRouter) {
  for (bool renormalize : {true, false}) {
    SCOPED_TRACE(renormalize);
    at::manual_seed(5);
    Router router(RouterOptions(kDim, kExperts).top_k(1).renormalize(renormalize));
    at::manual_seed(6);
    const at::Tensor rows = at::randn({kRows, kDim});
    const Routing r = router(rows);
    const at::Tensor top = std::get<0>(r.probs.max(1, /*keepdim=*/true));
    EXPECT_TRUE(at::allclose(r.gates, renormalize ? at::ones_like(top) : top));
    if (renormalize) {
      EXPECT_FALSE(r.gates.requires_grad()) << "1 = p / p has no gradient";
    } else {
      r.gates.sum().backward();
      EXPECT_GT(router->gate->weight.grad().abs().sum().item<double>(), 1e-4);
    }
  }
  // k > 1 renormalises either way.
  at::manual_seed(5);
  Router two(RouterOptions(kDim, kExperts).top_k(2).renormalize(false));
  const Routing r2 = two(at::randn({kRows, kDim}));
  EXPECT_TRUE(at::allclose(r2.gates.sum(1), at::ones({kRows})));
}

}  // namespace
}  // namespace moedil::model::moe
