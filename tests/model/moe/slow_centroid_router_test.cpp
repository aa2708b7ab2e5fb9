#include "moedil/model/moe/slow_centroid_router.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace moedil::model::moe {
namespace {

at::Tensor rows(const std::vector<std::vector<double>>& v) {
  at::Tensor t = at::empty({static_cast<int64_t>(v.size()), 2}, at::kFloat);
  for (std::size_t i = 0; i < v.size(); ++i) {
    t[static_cast<int64_t>(i)][0] = v[i][0];
    t[static_cast<int64_t>(i)][1] = v[i][1];
  }
  return t;
}

std::vector<double> unit(double x, double y) {
  const double n = std::sqrt(x * x + y * y);
  return {x / n, y / n};
}

void expect_rows(const at::Tensor& t, const std::vector<std::vector<double>>& want) {
  ASSERT_EQ(t.size(0), static_cast<int64_t>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(t[static_cast<int64_t>(i)][k].item<double>(), want[i][k], 1e-6)
          << "row " << i << " col " << k;
    }
  }
}

std::vector<int64_t> ids(const Routing& r) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < r.expert_idx.size(0); ++b) out.push_back(r.expert_idx[b][0].item<int64_t>());
  return out;
}

SlowCentroidRouter two_experts(double fast, double slow) {
  return SlowCentroidRouter(
      SlowCentroidRouterOptions(2, 2).alpha_fast(fast).alpha_slow(slow));
}

// The first training batch sets both centroid sets to its first E images' unit vectors; the
// same forward then routes by the slow set and moves both by the keep rates, renormalising.
TEST(SlowCentroidRouterTest, FirstTrainingBatchInitialisesThenRoutesAndMoves) {
  SlowCentroidRouter router = two_experts(0.5, 0.75);
  router->train();
  // z: a = (3, 4), b = (0, 2), c = (1, 0)
  const Routing r = router->forward(rows({{3, 4}, {0, 2}, {1, 0}}));
  EXPECT_TRUE(router->initialized());
  // Centroids before the move: e0 = unit(a) = (0.6, 0.8), e1 = unit(b) = (0, 1).
  // cos(a) = (1, 0.8) -> 0; cos(b) = (0.8, 1) -> 1; cos(c) = (0.6, 0) -> 0.
  EXPECT_EQ(ids(r), (std::vector<int64_t>{0, 1, 0}));
  expect_rows(r.logits, {{1.0, 0.8}, {0.8, 1.0}, {0.6, 0.0}});
  expect_rows(r.probs, {{1, 0}, {0, 1}, {1, 0}});
  expect_rows(r.gates.expand({3, 2}), {{1, 1}, {1, 1}, {1, 1}});
  EXPECT_FALSE(r.gates.requires_grad());
  // Expert 0: m0 = (unit(a) + unit(c)) / 2 = (0.8, 0.4); expert 1: m1 = (0, 1) (its centroid).
  // fast e0 = 0.5 (0.6, 0.8) + 0.5 (0.8, 0.4) = (0.7, 0.6), renormalised;
  // slow e0 = 0.75 (0.6, 0.8) + 0.25 (0.8, 0.4) = (0.65, 0.7), renormalised; e1 stays (0, 1).
  expect_rows(router->fast_centroids, {unit(0.7, 0.6), {0, 1}});
  expect_rows(router->slow_centroids, {unit(0.65, 0.7), {0, 1}});
}

TEST(SlowCentroidRouterTest, FewerImagesThanExpertsRepeatTheBatch) {
  SlowCentroidRouter router(SlowCentroidRouterOptions(2, 3).alpha_fast(1.0).alpha_slow(1.0));
  router->train();
  router->forward(rows({{0, 5}, {2, 0}}));
  // Keep rate 1: the centroids stay the initial ones, images 0, 1, 0.
  expect_rows(router->slow_centroids, {{0, 1}, {1, 0}, {0, 1}});
  expect_rows(router->fast_centroids, {{0, 1}, {1, 0}, {0, 1}});
}

TEST(SlowCentroidRouterTest, KeepRateZeroMakesTheCentroidTheUnitMean) {
  SlowCentroidRouter router = two_experts(0.0, 1.0);
  router->train();
  router->forward(rows({{1, 0}, {0, 1}}));           // init: e0 = (1, 0), e1 = (0, 1)
  router->forward(rows({{2, 1}, {1, 2}, {1, 0}}));  // -> 0, 1, 0
  // fast e0 = unit(mean(unit(2, 1), (1, 0))); fast e1 = unit(1, 2); slow unchanged.
  const std::vector<double> u = unit(2, 1);
  expect_rows(router->fast_centroids, {unit((u[0] + 1) / 2, u[1] / 2), unit(1, 2)});
  expect_rows(router->slow_centroids, {{1, 0}, {0, 1}});
}

// Evaluation routes the same way and changes nothing: not the initial draw, not the centroids.
TEST(SlowCentroidRouterTest, EvaluationChangesNothing) {
  SlowCentroidRouter router = two_experts(0.5, 0.5);
  const at::Tensor fast = router->fast_centroids.clone();
  const at::Tensor slow = router->slow_centroids.clone();
  router->eval();
  const Routing r = router->forward(rows({{3, 4}, {-1, 0}}));
  EXPECT_FALSE(router->initialized());
  EXPECT_TRUE(at::equal(router->fast_centroids, fast));
  EXPECT_TRUE(at::equal(router->slow_centroids, slow));
  // Routed by the initial slow centroids.
  const at::Tensor cos = at::matmul(rows({{0.6, 0.8}, {-1, 0}}), slow.t());
  EXPECT_TRUE(at::equal(r.expert_idx.squeeze(1), cos.argmax(1)));
  // Initialised, the centroids survive a state round trip as buffers.
  router->train();
  router->forward(rows({{3, 4}, {0, 2}}));
  SlowCentroidRouter copy = two_experts(0.5, 0.5);
  for (const auto& item : router->named_buffers()) {
    copy->named_buffers()[item.key()].copy_(item.value());
  }
  EXPECT_TRUE(copy->initialized());
  EXPECT_TRUE(at::equal(copy->slow_centroids, router->slow_centroids));
  EXPECT_TRUE(router->parameters().empty()) << "nothing in the routing learns";
}

TEST(SlowCentroidRouterTest, RefusesBadOptions) {
  EXPECT_THROW(SlowCentroidRouter(SlowCentroidRouterOptions(0, 2)), c10::Error);
  EXPECT_THROW(SlowCentroidRouter(SlowCentroidRouterOptions(2, 0)), c10::Error);
  EXPECT_THROW(SlowCentroidRouter(SlowCentroidRouterOptions(2, 2).alpha_fast(1.5)), c10::Error);
  EXPECT_THROW(SlowCentroidRouter(SlowCentroidRouterOptions(2, 2).alpha_slow(-0.1)), c10::Error);
}

}  // namespace
}  // namespace moedil::model::moe
