#include "moedil/model/moe/centroid_router.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "centroid_fixtures.h"

namespace moedil::model::moe {
namespace {

using namespace centroid_fixtures;

TEST(CentroidRouterTest, RoutesToTheMostSimilarFastCentroid) {
  auto router = hand_router(0.5);
  router->eval();
  const Routing r = router->forward(tensor_of(kPooled));
  ASSERT_EQ(r.expert_idx.sizes().vec(), (std::vector<int64_t>{3, 1}));
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(r.expert_idx[b][0].item<int64_t>(), kExpected[b]);
    // logits = cos / T; gate = the winner's probability.
    std::vector<double> z;
    for (const auto& c : kFast) z.push_back(cosine(kPooled[b], c) / 0.5);
    const std::vector<double> p = softmax(z);
    for (int e = 0; e < 3; ++e) {
      EXPECT_NEAR(r.logits[b][e].item<double>(), z[e], 1e-5);
      EXPECT_NEAR(r.probs[b][e].item<double>(), p[e], 1e-5);
    }
    EXPECT_NEAR(r.gates[b][0].item<double>(), p[kExpected[b]], 1e-5);
  }
}

TEST(CentroidRouterTest, TrainingMovesCentroidsByTheEmaFormulaEvaluationNot) {
  auto router = hand_router(1.0);
  router->eval();
  router->forward(tensor_of(kPooled));
  EXPECT_TRUE(at::equal(router->fast_centroids, tensor_of(kFast)));
  EXPECT_TRUE(at::equal(router->slow_centroids, tensor_of(kSlow)));

  router->train();
  router->forward(tensor_of(kPooled));
  // Expert 0 got a and b, expert 1 got c, expert 2 nothing.
  const std::vector<double> ea = unit(kPooled[0]), eb = unit(kPooled[1]), ec = unit(kPooled[2]);
  const std::vector<double> m0{(ea[0] + eb[0]) / 2, (ea[1] + eb[1]) / 2};
  const std::vector<std::vector<double>> means{m0, ec};
  for (int e = 0; e < 2; ++e) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(router->fast_centroids[e][k].item<double>(),
                  0.9 * kFast[e][k] + 0.1 * means[e][k], 1e-6);
      EXPECT_NEAR(router->slow_centroids[e][k].item<double>(),
                  0.99 * kSlow[e][k] + 0.01 * means[e][k], 1e-6);
    }
  }
  EXPECT_TRUE(at::equal(router->fast_centroids[2], tensor_of(kFast)[2]));
  EXPECT_TRUE(at::equal(router->slow_centroids[2], tensor_of(kSlow)[2]));
  EXPECT_FALSE(router->fast_centroids.requires_grad());
}

// alpha_fast / alpha_slow are keep rates (the predecessor's meaning, issue 17): at 1 a
// centroid never moves, at 0 it becomes the batch mean of its images. Read the other way (as
// step sizes) the two ends would swap.
TEST(CentroidRouterTest, KeepRatesAtTheExtremes) {
  auto router = hand_router(1.0, /*keep_fast=*/1.0, /*keep_slow=*/0.0);
  router->train();
  router->forward(tensor_of(kPooled));
  EXPECT_TRUE(at::equal(router->fast_centroids, tensor_of(kFast)));
  const std::vector<double> ea = unit(kPooled[0]), eb = unit(kPooled[1]), ec = unit(kPooled[2]);
  const std::vector<std::vector<double>> means{{(ea[0] + eb[0]) / 2, (ea[1] + eb[1]) / 2}, ec};
  for (int e = 0; e < 2; ++e) {
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(router->slow_centroids[e][k].item<double>(), means[e][k], 1e-6);
    }
  }
  EXPECT_TRUE(at::equal(router->slow_centroids[2], tensor_of(kSlow)[2]));  // no images
}

TEST(CentroidRouterTest, EachAuxiliaryLossMatchesAHandComputation) {
  const double t = 0.5;
  auto router = hand_router(t);
  router->train();
  router->forward(tensor_of(kPooled));
  const CentroidLosses& l = router->losses();
  std::vector<std::vector<double>> emb;
  for (const auto& p : kPooled) emb.push_back(unit(p));
  // repulsion: cosine between expert 0's mean embedding and expert 1's (the only pair used)
  const std::vector<double> m0{(emb[0][0] + emb[1][0]) / 2, (emb[0][1] + emb[1][1]) / 2};
  EXPECT_NEAR(l.repulsion.item<double>(), cosine(m0, emb[2]), 1e-5);
  // alignment: mean of 1 - cos(e, fast centroid of its expert)
  double alignment = 0;
  for (int b = 0; b < 3; ++b) alignment += (1 - cosine(emb[b], kFast[kExpected[b]])) / 3;
  EXPECT_NEAR(l.alignment.item<double>(), alignment, 1e-5);
  // consistency: mean KL(p_slow || p_fast); balance: KL(mean p_fast || uniform)
  double consistency = 0;
  std::vector<double> mean_fast(3, 0.0);
  for (int b = 0; b < 3; ++b) {
    std::vector<double> zf, zs;
    for (int e = 0; e < 3; ++e) {
      zf.push_back(cosine(emb[b], kFast[e]) / t);
      zs.push_back(cosine(emb[b], kSlow[e]) / t);
    }
    const auto pf = softmax(zf), ps = softmax(zs);
    for (int e = 0; e < 3; ++e) {
      consistency += ps[e] * std::log(ps[e] / pf[e]) / 3;
      mean_fast[e] += pf[e] / 3;
    }
  }
  EXPECT_NEAR(l.consistency.item<double>(), consistency, 1e-5);
  double balance = 0;
  for (double p : mean_fast) balance += p * std::log(3 * p);
  EXPECT_NEAR(l.balance.item<double>(), balance, 1e-5);
  EXPECT_GT(balance, 0.0);
  // With all images on one expert there is no pair to repel.
  auto single = hand_router(t);
  single->train();
  single->forward(tensor_of({{2, 0}, {3, 1}}));
  EXPECT_EQ(single->losses().repulsion.item<double>(), 0.0);
  // Evaluation keeps no losses.
  single->eval();
  single->forward(tensor_of(kPooled));
  EXPECT_FALSE(single->losses().alignment.defined());
}

}  // namespace
}  // namespace moedil::model::moe
