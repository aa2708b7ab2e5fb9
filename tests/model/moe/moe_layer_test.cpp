#include "moedil/model/moe/moe_layer.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/model/feed_forward.h"
#include "moedil/model/moe/balance.h"
#include "moedil/model/moe/capacity.h"

namespace moedil::model::moe {
namespace {

constexpr double kTol = 1e-5;
constexpr int64_t kBatch = 3;
constexpr int64_t kTokens = 5;
constexpr int64_t kDim = 4;
constexpr int64_t kHidden = 6;
constexpr int64_t kExperts = 3;

/// How rows are routed: per token, or per sample on the CLS token or the token mean.
enum class Routing_ { kToken, kSampleCls, kSampleMean };

std::string routing_name(Routing_ r) {
  switch (r) {
    case Routing_::kToken: return "token";
    case Routing_::kSampleCls: return "sample_cls";
    case Routing_::kSampleMean: return "sample_mean";
  }
  return "?";
}

MoeLayerOptions layer_options(Routing_ routing, int64_t k, int64_t shared) {
  return MoeLayerOptions(kDim, kHidden, kExperts)
      .top_k(k)
      .num_shared(shared)
      .granularity(routing == Routing_::kToken ? "token" : "sample")
      .route_with_cls(routing != Routing_::kSampleMean);
}

MoeLayer make_layer(Routing_ routing, int64_t k, int64_t shared, uint64_t seed) {
  at::manual_seed(seed);
  MoeLayer layer(layer_options(routing, k, shared));
  // Sharper router logits than the default init, so every expert tends to be used.
  at::NoGradGuard no_grad;
  layer->router->gate->weight.mul_(5.0);
  return layer;
}

/// FeedForward by hand from its weights: fc2(gelu(fc1(x))).
at::Tensor feed_forward_by_hand(FeedForwardImpl& ff, const at::Tensor& x) {
  const at::Tensor h = at::gelu(x.matmul(ff.fc1->weight.t()) + ff.fc1->bias);
  return h.matmul(ff.fc2->weight.t()) + ff.fc2->bias;
}

FeedForwardImpl& expert_of(MoeLayerImpl& layer, int64_t e) {
  return *layer.experts[static_cast<std::size_t>(e)]->as<FeedForward>();
}

struct HandRouting {
  at::Tensor probs;                         ///< [R, E]
  std::vector<std::vector<int64_t>> idx;    ///< [R][k]
  std::vector<std::vector<double>> gates;   ///< [R][k]
  std::vector<int64_t> counts;              ///< [E]
};

/// Routing by hand: softmax of the router logits, top-k by sorting, renormalised gates for k > 1.
HandRouting route_by_hand(MoeLayerImpl& layer, const at::Tensor& x, Routing_ routing, int64_t k) {
  at::Tensor input;
  if (routing == Routing_::kToken) input = x.reshape({-1, kDim});
  if (routing == Routing_::kSampleCls) input = x.select(1, 0);
  if (routing == Routing_::kSampleMean) input = x.sum(1) / static_cast<double>(x.size(1));
  const at::Tensor logits = input.matmul(layer.router->gate->weight.t()) + layer.router->gate->bias;
  HandRouting h;
  h.probs = at::softmax(logits, 1);
  h.counts.assign(kExperts, 0);
  const at::Tensor p = h.probs.detach();
  for (int64_t r = 0; r < p.size(0); ++r) {
    std::vector<int64_t> order(kExperts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return p[r][a].item<double>() > p[r][b].item<double>();
    });
    order.resize(static_cast<std::size_t>(k));
    double total = 0.0;
    for (int64_t e : order) total += p[r][e].item<double>();
    std::vector<double> g;
    for (int64_t e : order) {
      g.push_back(k == 1 ? p[r][e].item<double>() : p[r][e].item<double>() / total);
      ++h.counts[static_cast<std::size_t>(e)];
    }
    h.idx.push_back(order);
    h.gates.push_back(g);
  }
  return h;
}

/// Routed part of the layer by hand: every token goes through the experts of its row (itself for
/// token routing, its image for sample routing).
at::Tensor routed_by_hand(MoeLayerImpl& layer, const at::Tensor& x, const HandRouting& h,
                          Routing_ routing) {
  at::Tensor out = at::zeros_like(x);
  for (int64_t b = 0; b < x.size(0); ++b) {
    for (int64_t t = 0; t < x.size(1); ++t) {
      const std::size_t row =
          static_cast<std::size_t>(routing == Routing_::kToken ? b * x.size(1) + t : b);
      at::Tensor acc = at::zeros({kDim});
      for (std::size_t j = 0; j < h.idx[row].size(); ++j) {
        acc = acc + h.gates[row][j] * feed_forward_by_hand(expert_of(layer, h.idx[row][j]), x[b][t]);
      }
      out[b][t] = acc;
    }
  }
  return out;
}

at::Tensor shared_by_hand(MoeLayerImpl& layer, const at::Tensor& x) {
  at::Tensor out = at::zeros_like(x);
  for (const auto& shared : *layer.shared_experts) {
    out = out + feed_forward_by_hand(*shared->as<FeedForward>(), x);
  }
  return out;
}

int64_t sum_of(const std::vector<int64_t>& v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); }

struct RunResult {
  at::Tensor out;
  at::Tensor grad_x;
  std::vector<std::pair<std::string, at::Tensor>> grads;
};

RunResult run_backward(MoeLayer& layer, const at::Tensor& x0, const at::Tensor& upstream,
                       bool dense) {
  layer->zero_grad();
  const at::Tensor x = x0.detach().clone().set_requires_grad(true);
  const at::Tensor out = dense ? layer->forward_dense(x) : layer->forward(x);
  (out * upstream).sum().backward();
  RunResult r;
  r.out = out.detach();
  r.grad_x = x.grad().clone();
  for (const auto& item : layer->named_parameters()) {
    const at::Tensor& g = item.value().grad();
    r.grads.emplace_back(item.key(), g.defined() ? g.clone() : at::zeros_like(item.value()));
  }
  return r;
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(at::allclose(a, b, kTol, kTol))
      << what << ": max abs diff " << (a - b).abs().max().item<double>();
}

using Combo = std::tuple<Routing_, int64_t, int64_t>;  // routing, top_k, num_shared

class MoeLayerComboTest : public ::testing::TestWithParam<Combo> {};

TEST_P(MoeLayerComboTest, ForwardEqualsDenseAndHandReference) {
  const auto [routing, k, shared] = GetParam();
  MoeLayer layer = make_layer(routing, k, shared, 100 + static_cast<uint64_t>(routing) * 10 + k * 3 + shared);
  layer->train();
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  const at::Tensor upstream = at::randn({kBatch, kTokens, kDim});

  const RunResult sparse = run_backward(layer, x, upstream, /*dense=*/false);
  const std::vector<int64_t> usage_after_sparse = layer->usage(true);
  const RunResult dense = run_backward(layer, x, upstream, /*dense=*/true);

  ASSERT_EQ(sparse.out.sizes().vec(), (std::vector<int64_t>{kBatch, kTokens, kDim}));
  expect_close(sparse.out, dense.out, "output");
  expect_close(sparse.grad_x, dense.grad_x, "grad x");
  ASSERT_EQ(sparse.grads.size(), dense.grads.size());
  bool router_has_grad = false;
  for (std::size_t i = 0; i < sparse.grads.size(); ++i) {
    ASSERT_EQ(sparse.grads[i].first, dense.grads[i].first);
    expect_close(sparse.grads[i].second, dense.grads[i].second, "grad " + sparse.grads[i].first);
    if (sparse.grads[i].first.rfind("router.", 0) == 0) {
      router_has_grad |= sparse.grads[i].second.abs().sum().item<double>() > 0.0;
    }
  }
  EXPECT_TRUE(router_has_grad) << "the router gets a gradient through the gates";

  // Hand reference: the routed experts of each row (a whole image for sample routing: every
  // token of an image goes through the same experts) plus the shared experts.
  at::NoGradGuard no_grad;
  const HandRouting h = route_by_hand(*layer, x, routing, k);
  const at::Tensor expected = routed_by_hand(*layer, x, h, routing) + shared_by_hand(*layer, x);
  expect_close(sparse.out, expected, "output vs hand");

  // Usage: one assignment per row and slot: B*k images or B*T*k tokens.
  const int64_t rows = routing == Routing_::kToken ? kBatch * kTokens : kBatch;
  EXPECT_EQ(sum_of(usage_after_sparse), rows * k);
  EXPECT_EQ(usage_after_sparse, h.counts);
  // The dense forward counts the same routing again.
  std::vector<int64_t> twice = h.counts;
  for (auto& c : twice) c *= 2;
  EXPECT_EQ(layer->usage(true), twice);
  EXPECT_EQ(sum_of(layer->usage(false)), 0);
}

INSTANTIATE_TEST_SUITE_P(
    AllCombos, MoeLayerComboTest,
    ::testing::Combine(::testing::Values(Routing_::kSampleCls, Routing_::kSampleMean,
                                         Routing_::kToken),
                       ::testing::Values<int64_t>(1, 2), ::testing::Values<int64_t>(0, 1)),
    [](const auto& info) {
      return routing_name(std::get<0>(info.param)) + "_k" +
             std::to_string(std::get<1>(info.param)) + "_shared" +
             std::to_string(std::get<2>(info.param));
    });

TEST(MoeLayerTest, SampleRoutingUsesOneDecisionPerImage) {
  // Images whose tokens differ but whose CLS tokens are identical are all routed alike:
  // every token of every image goes through the expert picked from the CLS token.
  MoeLayer layer = make_layer(Routing_::kSampleCls, 1, 0, 7);
  at::Tensor x = at::randn({kBatch, kTokens, kDim});
  {
    at::NoGradGuard no_grad;
    x.select(1, 0).copy_(at::randn({1, kDim}).expand({kBatch, kDim}));
  }
  layer->train();
  at::NoGradGuard no_grad;
  const at::Tensor out = layer->forward(x);
  const std::vector<int64_t> usage = layer->usage(true);
  EXPECT_EQ(sum_of(usage), kBatch);
  EXPECT_EQ(*std::max_element(usage.begin(), usage.end()), kBatch) << "one expert for all images";
  const HandRouting h = route_by_hand(*layer, x, Routing_::kSampleCls, 1);
  const int64_t e = h.idx[0][0];
  for (int64_t b = 0; b < kBatch; ++b) {
    const at::Tensor expected = h.gates[0][0] * feed_forward_by_hand(expert_of(*layer, e), x[b]);
    expect_close(out[b], expected, "image " + std::to_string(b));
  }
}

TEST(MoeLayerTest, ForcedExpertTakesEveryRowWithTheRoutersGateRule) {
  for (const int64_t k : {1, 2}) {
    SCOPED_TRACE("top_k " + std::to_string(k));
    MoeLayer layer = make_layer(Routing_::kToken, k, 0, 11);
    const at::Tensor x = at::randn({kBatch, kTokens, kDim});
    layer->eval();
    at::NoGradGuard no_grad;
    layer->force_expert(1);
    const at::Tensor out = layer->forward(x);
    const std::vector<int64_t> usage = layer->usage(false);
    EXPECT_EQ(usage[1], kBatch * kTokens);
    EXPECT_EQ(sum_of(usage), kBatch * kTokens);
    // k = 1 keeps the router's probability of the expert as its gate; k > 1 renormalises the
    // single chosen gate to 1.
    const HandRouting h = route_by_hand(*layer, x, Routing_::kToken, k);
    const at::Tensor rows = x.reshape({kBatch * kTokens, kDim});
    for (int64_t r = 0; r < 3; ++r) {
      const double gate = k == 1 ? h.probs[r][1].item<double>() : 1.0;
      expect_close(out.reshape({kBatch * kTokens, kDim})[r],
                   gate * feed_forward_by_hand(expert_of(*layer, 1), rows[r]),
                   "row " + std::to_string(r));
    }
    layer->force_expert(-1);
    layer->reset_usage(false);
    layer->forward(x);
    EXPECT_LT(layer->usage(false)[1], kBatch * kTokens) << "routing restored";
    EXPECT_THROW(layer->force_expert(layer->options.num_experts()), UsageError);
  }
}

TEST(MoeLayerTest, RoutingEntropyIsLogEForAUniformRouterAndReset) {
  MoeLayer layer = make_layer(Routing_::kToken, 1, 0, 5);
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  layer->eval();
  at::NoGradGuard no_grad;
  EXPECT_EQ(layer->routing_entropy(false), 0.0);  // no rows yet
  layer->forward(x);
  const double routed = layer->routing_entropy(false);
  const double uniform = std::log(static_cast<double>(layer->options.num_experts()));
  EXPECT_GT(routed, 0.0);
  EXPECT_LT(routed, uniform);
  // Zero router weights: every row's distribution is uniform, entropy log(E) exactly.
  layer->router->gate->weight.zero_();
  layer->router->gate->bias.zero_();
  layer->reset_usage(false);
  layer->forward(x);
  EXPECT_NEAR(layer->routing_entropy(false), uniform, 1e-6);
  EXPECT_EQ(layer->routing_entropy(true), 0.0);  // training kept apart
  layer->reset_usage(false);
  EXPECT_EQ(layer->routing_entropy(false), 0.0);
}

TEST(MoeLayerTest, TrainingAndEvaluationUsageAreKeptApart) {
  for (Routing_ routing : {Routing_::kSampleCls, Routing_::kToken}) {
    SCOPED_TRACE(routing_name(routing));
    MoeLayer layer = make_layer(routing, 2, 0, 9);
    const at::Tensor x = at::randn({kBatch, kTokens, kDim});
    const HandRouting h = route_by_hand(*layer, x, routing, 2);
    const std::vector<int64_t> zeros(kExperts, 0);
    EXPECT_EQ(layer->usage(true), zeros);
    EXPECT_EQ(layer->usage(false), zeros);

    layer->train();
    layer->forward(x);
    EXPECT_EQ(layer->usage(true), h.counts);
    EXPECT_EQ(layer->usage(false), zeros);
    layer->forward(x);
    std::vector<int64_t> twice = h.counts;
    for (auto& c : twice) c *= 2;
    EXPECT_EQ(layer->usage(true), twice);
    EXPECT_EQ(layer->usage(false), zeros);

    layer->eval();
    {
      at::NoGradGuard no_grad;
      layer->forward(x);
    }
    EXPECT_EQ(layer->usage(true), twice) << "eval forward must not touch the training counts";
    EXPECT_EQ(layer->usage(false), h.counts);

    layer->reset_usage(true);
    EXPECT_EQ(layer->usage(true), zeros);
    EXPECT_EQ(layer->usage(false), h.counts) << "resetting training counts keeps eval counts";

    layer->train();
    layer->forward(x);
    EXPECT_EQ(layer->usage(true), h.counts) << "counting restarts from zero after a reset";

    layer->reset_usage(false);
    EXPECT_EQ(layer->usage(false), zeros);
    EXPECT_EQ(layer->usage(true), h.counts) << "resetting eval counts keeps training counts";
  }
}

TEST(MoeLayerTest, BalanceLossDefinedAfterTrainingForwardOnly) {
  for (Routing_ routing : {Routing_::kSampleMean, Routing_::kToken}) {
    SCOPED_TRACE(routing_name(routing));
    MoeLayer layer = make_layer(routing, 1, 0, 13);
    const at::Tensor x = at::randn({kBatch, kTokens, kDim});
    EXPECT_FALSE(layer->balance_loss().defined()) << "no forward yet";

    layer->train();
    layer->forward(x);
    ASSERT_TRUE(layer->balance_loss().defined());
    const at::Tensor loss = layer->balance_loss();
    EXPECT_EQ(loss.dim(), 0);
    // Equals the switch loss of the hand routing.
    const HandRouting h = route_by_hand(*layer, x, routing, 1);
    const at::Tensor expected = switch_balance_loss(h.probs.detach(), at::tensor(h.counts, at::kLong));
    EXPECT_NEAR(loss.item<double>(), expected.item<double>(), kTol);
    EXPECT_GE(loss.item<double>(), 1.0 - kTol);
    EXPECT_LE(loss.item<double>(), static_cast<double>(kExperts) + kTol);
    // It trains the router.
    ASSERT_TRUE(loss.requires_grad());
    layer->zero_grad();
    loss.backward();
    ASSERT_TRUE(layer->router->gate->weight.grad().defined());
    EXPECT_GT(layer->router->gate->weight.grad().abs().sum().item<double>(), 0.0);

    layer->eval();
    {
      at::NoGradGuard no_grad;
      layer->forward(x);
    }
    EXPECT_FALSE(layer->balance_loss().defined()) << "undefined after an evaluation forward";

    layer->train();
    layer->forward(x);
    EXPECT_TRUE(layer->balance_loss().defined());
  }
}

TEST(MoeLayerTest, SharedExpertAddsItsOutputToTheRoutedOutput) {
  for (Routing_ routing : {Routing_::kSampleCls, Routing_::kToken}) {
    SCOPED_TRACE(routing_name(routing));
    MoeLayer layer = make_layer(routing, 1, 1, 17);
    ASSERT_EQ(layer->shared_experts->size(), 1u);
    ASSERT_EQ(layer->experts->size(), static_cast<std::size_t>(kExperts));
    const at::Tensor x = at::randn({kBatch, kTokens, kDim});
    layer->train();
    at::NoGradGuard no_grad;
    const at::Tensor out = layer->forward(x);
    auto& shared = *layer->shared_experts[0]->as<FeedForward>();
    const at::Tensor shared_part = feed_forward_by_hand(shared, x);
    EXPECT_GT(shared_part.abs().sum().item<double>(), 0.0);
    const HandRouting h = route_by_hand(*layer, x, routing, 1);
    const at::Tensor routed = routed_by_hand(*layer, x, h, routing);
    expect_close(out - shared_part, routed, "output minus shared part");

    // Same experts and router without the shared expert: output differs by exactly the shared part.
    MoeLayer plain(layer_options(routing, 1, 0));
    plain->router->gate->weight.copy_(layer->router->gate->weight);
    plain->router->gate->bias.copy_(layer->router->gate->bias);
    for (int64_t e = 0; e < kExperts; ++e) {
      auto& from = expert_of(*layer, e);
      auto& to = expert_of(*plain, e);
      to.fc1->weight.copy_(from.fc1->weight);
      to.fc1->bias.copy_(from.fc1->bias);
      to.fc2->weight.copy_(from.fc2->weight);
      to.fc2->bias.copy_(from.fc2->bias);
    }
    plain->train();
    expect_close(out, plain->forward(x) + shared_part, "with shared = without + shared part");
  }
}

// The predecessor's shared-experts-only layer: no router, the plain (unweighted) sum of the
// shared experts, by hand.
TEST(MoeLayerTest, NoRoutedExpertIsThePlainSumOfTheSharedExperts) {
  MoeLayer layer(MoeLayerOptions(kDim, kHidden, 0).num_shared(3).top_k(0));
  EXPECT_FALSE(layer->router);
  ASSERT_EQ(layer->experts->size(), 0u);
  ASSERT_EQ(layer->shared_experts->size(), 3u);
  for (const auto& item : layer->named_parameters()) {
    EXPECT_EQ(item.key().rfind("shared_experts.", 0), 0u) << item.key();
  }
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  at::NoGradGuard no_grad;
  at::Tensor sum = at::zeros_like(x);
  for (std::size_t e = 0; e < 3; ++e) {
    sum = sum + feed_forward_by_hand(*layer->shared_experts[e]->as<FeedForward>(), x);
  }
  layer->train();
  expect_close(layer->forward(x), sum, "training");
  layer->eval();
  expect_close(layer->forward(x), sum, "evaluation");
  EXPECT_FALSE(layer->balance_loss().defined());
  EXPECT_THROW(MoeLayer(MoeLayerOptions(kDim, kHidden, 0).top_k(0)), c10::Error);
}

TEST(MoeLayerTest, ParameterCountAndInvalidGranularity) {
  MoeLayer layer(MoeLayerOptions(kDim, kHidden, kExperts).num_shared(2));
  const int64_t ff = kDim * kHidden + kHidden + kHidden * kDim + kDim;
  const int64_t router = kDim * kExperts + kExperts;
  int64_t total = 0;
  for (const auto& p : layer->parameters()) total += p.numel();
  EXPECT_EQ(total, router + (kExperts + 2) * ff);
  EXPECT_THROW(MoeLayer(MoeLayerOptions(kDim, kHidden, kExperts).granularity("image")), c10::Error);
}

/// A token-routed layer with the given routing options; same weights for the same seed.
MoeLayer make_routed_layer(MoeLayerOptions options, uint64_t seed) {
  at::manual_seed(seed);
  MoeLayer layer(options);
  at::NoGradGuard no_grad;
  layer->router->gate->weight.mul_(5.0);
  return layer;
}

MoeLayerOptions token_options() {
  return MoeLayerOptions(kDim, kHidden, kExperts).granularity("token");
}

TEST(MoeLayerTest, CapacityDropsOverflowRowsWhichGetNoRoutedOutput) {
  MoeLayer layer = make_routed_layer(token_options().capacity_factor(0.5), 11);
  at::manual_seed(12);
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  const at::Tensor out = layer(x);
  const int64_t rows = kBatch * kTokens;  // 15 tokens, C = ceil(0.5 * 15 / 3) = 3
  // Routing by hand (no noise): which rows overflow their expert's capacity of 3.
  const Routing r = layer->router(x.reshape({rows, kDim}));
  const Assignments kept = token_choice(r.expert_idx, r.gates, kExperts, 3);
  const int64_t dropped = count_dropped_rows(kept, rows);
  ASSERT_GT(dropped, 0);
  EXPECT_DOUBLE_EQ(layer->dropped_fraction(true), static_cast<double>(dropped) / rows);
  EXPECT_EQ(layer->dropped_fraction(false), 0.0);
  for (int64_t used : layer->usage(true)) EXPECT_LE(used, 3);
  // A dropped row's output is 0 (the block's residual passes it through); kept rows get their
  // expert's gated output.
  const at::Tensor flat = out.reshape({rows, kDim});
  const at::Tensor hit = at::bincount(kept.rows, {}, rows);
  at::NoGradGuard no_grad;
  for (int64_t row = 0; row < rows; ++row) {
    if (hit[row].item<int64_t>() == 0) {
      EXPECT_EQ(flat[row].abs().max().item<double>(), 0.0) << "row " << row;
    } else {
      const int64_t e = r.expert_idx[row][0].item<int64_t>();
      const at::Tensor expected =
          r.gates[row][0] * feed_forward_by_hand(expert_of(*layer, e), x.reshape({rows, kDim})[row]);
      EXPECT_TRUE(at::allclose(flat[row], expected, kTol, kTol)) << "row " << row;
    }
  }
  EXPECT_TRUE(at::allclose(out, layer->forward_dense(x), kTol, kTol));
  layer->reset_usage(true);
  EXPECT_EQ(layer->dropped_fraction(true), 0.0);
}

TEST(MoeLayerTest, ExpertChoiceGivesEveryExpertExactlyCRows) {
  MoeLayer layer =
      make_routed_layer(token_options().routing("expert_choice").capacity_factor(1.0).top_k(1), 13);
  at::manual_seed(14);
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  const at::Tensor out = layer(x);
  // C = ceil(1.0 * 15 * 1 / 3) = 5 per expert.
  EXPECT_EQ(layer->usage(true), (std::vector<int64_t>{5, 5, 5}));
  EXPECT_TRUE(at::allclose(out, layer->forward_dense(x), kTol, kTol));
  const Routing r = layer->router(x.reshape({-1, kDim}));
  EXPECT_DOUBLE_EQ(layer->dropped_fraction(true),
                   static_cast<double>(count_dropped_rows(expert_choice(r.probs, 5), 15)) / 15.0);
}

TEST(MoeLayerTest, ExpertDropoutOnlyInTraining) {
  const auto options = token_options().expert_dropout(0.6);
  MoeLayer layer = make_routed_layer(options, 15);
  MoeLayer reference = make_routed_layer(token_options(), 15);  // same weights, no dropout
  at::manual_seed(16);
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  // Training: the experts the step's draw made unavailable get no rows.
  int64_t steps_with_an_idle_expert = 0;
  for (int step = 0; step < 10; ++step) {
    at::manual_seed(200 + step);
    const at::Tensor available = layer->router->draw_available();
    at::manual_seed(200 + step);
    layer->reset_usage(true);
    layer(x);
    const std::vector<int64_t> usage = layer->usage(true);
    for (int64_t e = 0; e < kExperts; ++e) {
      if (!available[e].item<bool>()) EXPECT_EQ(usage[e], 0) << "step " << step << " expert " << e;
    }
    if (available.logical_not().any().item<bool>()) ++steps_with_an_idle_expert;
  }
  EXPECT_GT(steps_with_an_idle_expert, 3);
  // Evaluation: all experts, whatever the generator state: the same as the layer without dropout.
  layer->eval();
  reference->eval();
  for (uint64_t seed : {1, 2, 3}) {
    at::manual_seed(seed);
    EXPECT_TRUE(at::allclose(layer(x), reference(x), 1e-6, 1e-6)) << "seed " << seed;
  }
}

TEST(MoeLayerTest, SelectedBalanceLossesAreWeightedIntoTheBalanceLoss) {
  MoeLayer layer = make_routed_layer(
      token_options().balance_losses({{"z_loss", 0.5}, {"column_entropy", 2.0}}), 17);
  at::manual_seed(18);
  const at::Tensor x = at::randn({kBatch, kTokens, kDim});
  layer(x);
  const Routing r = layer->router(x.reshape({-1, kDim}));
  const double expected =
      0.5 * z_loss(r.logits).item<double>() + 2.0 * column_entropy_loss(r.probs).item<double>();
  EXPECT_NEAR(layer->balance_loss().item<double>(), expected, 1e-5);
}

TEST(MoeLayerTest, InvalidRoutingCapacityAndBalanceNamesThrow) {
  EXPECT_THROW(MoeLayer(token_options().routing("expert")), c10::Error);
  EXPECT_THROW(MoeLayer(token_options().capacity_factor(-1.0)), c10::Error);
  EXPECT_THROW(MoeLayer(token_options().balance_losses({{"swich", 1.0}})), c10::Error);
  EXPECT_THROW(MoeLayer(token_options().balance_losses({{"switch", -1.0}})), c10::Error);
  EXPECT_THROW(MoeLayer(token_options().expert_dropout(1.0)), c10::Error);
  EXPECT_NO_THROW(MoeLayer(token_options().routing("expert_choice").capacity_factor(2.0)));
}

}  // namespace
}  // namespace moedil::model::moe
