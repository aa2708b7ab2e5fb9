#include "moedil/model/moe/dispatch.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace moedil::model::moe {
namespace {

constexpr double kTol = 1e-5;

constexpr int64_t kDim = 3;
constexpr int64_t kOut = 2;
constexpr int64_t kExperts = 4;  // expert 3 receives no rows in the hand-built routings

std::vector<torch::nn::Linear> make_experts(int64_t num_experts) {
  std::vector<torch::nn::Linear> experts;
  for (int64_t e = 0; e < num_experts; ++e) experts.emplace_back(kDim, kOut);
  return experts;
}

ExpertFn linear_experts(std::vector<torch::nn::Linear>& experts) {
  return [&experts](int64_t e, const at::Tensor& rows) {
    return experts[static_cast<std::size_t>(e)]->forward(rows);
  };
}

void zero_grads(std::vector<torch::nn::Linear>& experts) {
  for (auto& expert : experts) {
    for (auto& p : expert->parameters()) {
      if (p.grad().defined()) p.mutable_grad() = at::Tensor();
    }
  }
}

/// Hand-built routings over 6 rows and 4 experts; expert 3 is never chosen.
at::Tensor hand_routing(int64_t k) {
  if (k == 1) return at::tensor({0, 2, 0, 1, 2, 0}, at::kLong).reshape({6, 1});
  return at::tensor({0, 2, 2, 0, 1, 0, 2, 1, 0, 1, 1, 2}, at::kLong).reshape({6, 2});
}

/// Rows (ascending) that route to expert e under `idx`.
std::vector<int64_t> rows_of(const at::Tensor& idx, int64_t e) {
  std::vector<int64_t> rows;
  const auto acc = idx.accessor<int64_t, 2>();
  for (int64_t r = 0; r < idx.size(0); ++r) {
    for (int64_t j = 0; j < idx.size(1); ++j) {
      if (acc[r][j] == e) rows.push_back(r);
    }
  }
  return rows;
}

at::Tensor row_shape_input(int64_t rank, int64_t rows) {
  return rank == 2 ? at::randn({rows, kDim}) : at::randn({rows, 2, kDim});
}

at::Tensor positive_gates(int64_t rows, int64_t k) {
  return at::softmax(at::randn({rows, k}), 1) * 0.9 + 0.05;
}

/// out[r] = sum_j gates[r, j] * expert_{idx[r, j]}(x[r]), one row at a time.
at::Tensor hand_reference(const at::Tensor& x, const at::Tensor& idx, const at::Tensor& gates,
                          std::vector<torch::nn::Linear>& experts) {
  std::vector<at::Tensor> rows;
  for (int64_t r = 0; r < x.size(0); ++r) {
    at::Tensor acc;
    for (int64_t j = 0; j < idx.size(1); ++j) {
      const int64_t e = idx[r][j].item<int64_t>();
      const at::Tensor y = experts[static_cast<std::size_t>(e)]->forward(x[r]) * gates[r][j];
      acc = acc.defined() ? acc + y : y;
    }
    rows.push_back(acc);
  }
  return at::stack(rows, 0);
}

struct Grads {
  at::Tensor out;
  at::Tensor x;
  at::Tensor gates;
  std::vector<at::Tensor> params;
};

enum class Mode { kSparse, kDense };

Grads run_and_backward(Mode mode, const at::Tensor& x0, const at::Tensor& idx,
                       const at::Tensor& gates0, std::vector<torch::nn::Linear>& experts,
                       const at::Tensor& upstream, at::Tensor* counts = nullptr) {
  zero_grads(experts);
  const at::Tensor x = x0.detach().clone().set_requires_grad(true);
  const at::Tensor gates = gates0.detach().clone().set_requires_grad(true);
  const ExpertFn fn = linear_experts(experts);
  const at::Tensor out = mode == Mode::kSparse
                             ? sparse_dispatch(x, idx, gates, kExperts, fn, counts)
                             : dense_dispatch(x, idx, gates, kExperts, fn);
  (out * upstream).sum().backward();
  Grads g;
  g.out = out.detach();
  g.x = x.grad().clone();
  g.gates = gates.grad().clone();
  for (auto& expert : experts) {
    for (auto& p : expert->parameters()) {
      g.params.push_back(p.grad().defined() ? p.grad().clone() : at::zeros_like(p));
    }
  }
  return g;
}

void expect_close(const at::Tensor& a, const at::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(at::allclose(a, b, kTol, kTol))
      << what << ": max abs diff " << (a - b).abs().max().item<double>();
}

class DispatchEquivalenceTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(DispatchEquivalenceTest, SparseEqualsDenseAndHandOutputsAndGradients) {
  const auto [rank, k] = GetParam();
  at::manual_seed(11 + rank * 10 + k);
  auto experts = make_experts(kExperts);
  const at::Tensor idx = hand_routing(k);
  const int64_t rows = idx.size(0);
  const at::Tensor x = row_shape_input(rank, rows);
  const at::Tensor gates = positive_gates(rows, k);
  const at::Tensor upstream =
      rank == 2 ? at::randn({rows, kOut}) : at::randn({rows, 2, kOut});

  at::Tensor counts;
  const Grads sparse = run_and_backward(Mode::kSparse, x, idx, gates, experts, upstream, &counts);
  const Grads dense = run_and_backward(Mode::kDense, x, idx, gates, experts, upstream);

  const std::vector<int64_t> out_shape =
      rank == 2 ? std::vector<int64_t>{rows, kOut} : std::vector<int64_t>{rows, 2, kOut};
  EXPECT_EQ(sparse.out.sizes().vec(), out_shape);
  expect_close(sparse.out, dense.out, "output");
  expect_close(sparse.x, dense.x, "grad x");
  expect_close(sparse.gates, dense.gates, "grad gates");
  ASSERT_EQ(sparse.params.size(), dense.params.size());
  for (std::size_t i = 0; i < sparse.params.size(); ++i) {
    expect_close(sparse.params[i], dense.params[i], "grad param " + std::to_string(i));
  }
  // Expert 3 received no rows: its parameters get a zero gradient in both.
  EXPECT_EQ(sparse.params[6].abs().sum().item<double>(), 0.0);  // weight of expert 3
  EXPECT_EQ(sparse.params[7].abs().sum().item<double>(), 0.0);  // bias of expert 3
  // Used experts do get a gradient.
  EXPECT_GT(sparse.params[0].abs().sum().item<double>(), 0.0);

  // Against a row-by-row hand computation (independent of both dispatch functions).
  {
    at::NoGradGuard no_grad;
    expect_close(sparse.out, hand_reference(x, idx, gates, experts), "output vs hand");
  }

  // Gradient w.r.t. gates by hand: d out[r] / d gates[r, j] = expert_{idx[r,j]}(x[r]).
  {
    at::NoGradGuard no_grad;
    at::Tensor expected = at::zeros({rows, k});
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < k; ++j) {
        const int64_t e = idx[r][j].item<int64_t>();
        expected[r][j] = (experts[static_cast<std::size_t>(e)]->forward(x[r]) * upstream[r]).sum();
      }
    }
    expect_close(sparse.gates, expected, "grad gates vs hand");
  }

  // Counts output: the hand count of assignments per expert.
  ASSERT_TRUE(counts.defined());
  EXPECT_EQ(counts.scalar_type(), at::kLong);
  ASSERT_EQ(counts.numel(), kExperts);
  for (int64_t e = 0; e < kExperts; ++e) {
    EXPECT_EQ(counts[e].item<int64_t>(), static_cast<int64_t>(rows_of(idx, e).size()))
        << "expert " << e;
  }
  EXPECT_EQ(counts[3].item<int64_t>(), 0);
}

INSTANTIATE_TEST_SUITE_P(RankAndK, DispatchEquivalenceTest,
                         ::testing::Combine(::testing::Values<int64_t>(2, 3),
                                            ::testing::Values<int64_t>(1, 2)),
                         [](const auto& info) {
                           return "rank" + std::to_string(std::get<0>(info.param)) + "_k" +
                                  std::to_string(std::get<1>(info.param));
                         });

class DispatchCallsTest : public ::testing::TestWithParam<std::tuple<int64_t, int64_t>> {};

TEST_P(DispatchCallsTest, EachExpertCalledAtMostOnceOnExactlyItsRows) {
  const auto [rank, k] = GetParam();
  at::manual_seed(5);
  const at::Tensor idx = hand_routing(k);
  const int64_t rows = idx.size(0);
  // Distinct rows so that each row an expert receives can be identified.
  const at::Tensor x = row_shape_input(rank, rows);
  const at::Tensor gates = positive_gates(rows, k);

  std::map<int64_t, int> calls;
  std::map<int64_t, std::vector<int64_t>> received;  // expert -> x rows it saw
  const ExpertFn spy = [&](int64_t e, const at::Tensor& r) {
    ++calls[e];
    EXPECT_EQ(r.dim(), x.dim());
    for (int64_t i = 0; i < r.size(0); ++i) {
      int64_t match = -1;
      for (int64_t j = 0; j < rows; ++j) {
        if (at::equal(r[i], x[j])) match = j;
      }
      EXPECT_GE(match, 0) << "expert " << e << " received a row that is not a row of x";
      received[e].push_back(match);
    }
    return r.flatten(1).sum(1, /*keepdim=*/true) * static_cast<double>(e + 1);
  };

  at::Tensor counts;
  const at::Tensor out = sparse_dispatch(x, idx, gates, kExperts, spy, &counts);

  for (int64_t e = 0; e < kExperts; ++e) {
    const std::vector<int64_t> expected = rows_of(idx, e);
    if (expected.empty()) {
      EXPECT_EQ(calls.count(e), 0u) << "expert " << e << " has no rows but was called";
      continue;
    }
    EXPECT_EQ(calls[e], 1) << "expert " << e;
    std::vector<int64_t> got = received[e];
    ASSERT_EQ(got.size(), expected.size()) << "expert " << e << " row count";
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected) << "expert " << e;
  }
  // Expert e multiplies the row sum by (e + 1): out[r] = sum_j g[r,j] (idx[r,j]+1) sum(x[r]).
  ASSERT_EQ(out.sizes().vec(), (std::vector<int64_t>{rows, 1}));
  for (int64_t r = 0; r < rows; ++r) {
    double expected = 0.0;
    for (int64_t j = 0; j < k; ++j) {
      expected += gates[r][j].item<double>() * static_cast<double>(idx[r][j].item<int64_t>() + 1) *
                  x[r].sum().item<double>();
    }
    EXPECT_NEAR(out[r][0].item<double>(), expected, kTol) << "row " << r;
  }
  for (int64_t e = 0; e < kExperts; ++e) {
    EXPECT_EQ(counts[e].item<int64_t>(), static_cast<int64_t>(rows_of(idx, e).size()));
  }
}

INSTANTIATE_TEST_SUITE_P(RankAndK, DispatchCallsTest,
                         ::testing::Combine(::testing::Values<int64_t>(2, 3),
                                            ::testing::Values<int64_t>(1, 2)),
                         [](const auto& info) {
                           return "rank" + std::to_string(std::get<0>(info.param)) + "_k" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(DispatchTest, RandomRoutingSparseEqualsDense) {
  // Larger random routing (distinct experts per row, as a top-k router gives).
  at::manual_seed(3);
  auto experts = make_experts(kExperts);
  const int64_t rows = 17;
  const int64_t k = 2;
  std::vector<at::Tensor> picks;
  for (int64_t r = 0; r < rows; ++r) picks.push_back(at::randperm(kExperts).slice(0, 0, k));
  const at::Tensor idx = at::stack(picks, 0);
  const at::Tensor x = at::randn({rows, 2, kDim});
  const at::Tensor gates = positive_gates(rows, k);
  const at::Tensor upstream = at::randn({rows, 2, kOut});
  at::Tensor counts;
  const Grads sparse = run_and_backward(Mode::kSparse, x, idx, gates, experts, upstream, &counts);
  const Grads dense = run_and_backward(Mode::kDense, x, idx, gates, experts, upstream);
  expect_close(sparse.out, dense.out, "output");
  expect_close(sparse.x, dense.x, "grad x");
  expect_close(sparse.gates, dense.gates, "grad gates");
  for (std::size_t i = 0; i < sparse.params.size(); ++i) {
    expect_close(sparse.params[i], dense.params[i], "grad param " + std::to_string(i));
  }
  EXPECT_EQ(counts.sum().item<int64_t>(), rows * k);
  EXPECT_TRUE(at::equal(counts, at::bincount(idx.reshape({-1}), {}, kExperts)));
}

TEST(DispatchTest, AllRowsToOneExpertCallsOnlyThatExpert) {
  at::manual_seed(4);
  auto experts = make_experts(kExperts);
  const at::Tensor idx = at::full({5, 1}, 2, at::kLong);
  const at::Tensor x = at::randn({5, kDim});
  const at::Tensor gates = positive_gates(5, 1);
  std::vector<int64_t> called;
  const ExpertFn fn = [&](int64_t e, const at::Tensor& r) {
    called.push_back(e);
    EXPECT_EQ(r.size(0), 5);
    return experts[static_cast<std::size_t>(e)]->forward(r);
  };
  at::Tensor counts;
  const at::Tensor out = sparse_dispatch(x, idx, gates, kExperts, fn, &counts);
  EXPECT_EQ(called, std::vector<int64_t>{2});
  at::NoGradGuard no_grad;
  expect_close(out, experts[2]->forward(x) * gates, "output");
  EXPECT_TRUE(at::equal(counts, at::tensor({0, 0, 5, 0}, at::kLong)));
}

TEST(DispatchTest, NoRowsGivesAnEmptyOutputOfTheExpertsWidth) {
  // R = 0: the result is [0, ...out] like dense_dispatch's (the experts map width kDim to
  // kOut), and every count is 0. To learn the output width, expert 0 is called once on the
  // empty input (documented in dispatch.h); no expert sees a row.
  at::manual_seed(6);
  auto experts = make_experts(kExperts);
  const at::Tensor x = at::randn({0, kDim});
  const at::Tensor idx = at::zeros({0, 1}, at::kLong);
  const at::Tensor gates = at::zeros({0, 1});
  int calls = 0;
  const ExpertFn fn = [&](int64_t e, const at::Tensor& r) {
    ++calls;
    return experts[static_cast<std::size_t>(e)]->forward(r);
  };
  at::Tensor counts;
  const at::Tensor sparse = sparse_dispatch(x, idx, gates, kExperts, fn, &counts);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(at::equal(counts, at::zeros({kExperts}, at::kLong)));
  const at::Tensor dense = dense_dispatch(x, idx, gates, kExperts, linear_experts(experts));
  EXPECT_EQ(dense.sizes().vec(), (std::vector<int64_t>{0, kOut}));
  EXPECT_EQ(sparse.sizes().vec(), (std::vector<int64_t>{0, kOut}))
      << "sparse_dispatch returns zeros_like(x) when no expert ran, with x's width";
}

TEST(DispatchTest, AssignmentsSumPerRowAndLeaveUnassignedRowsZero) {
  // Row 0 goes to experts 1 and 2, row 1 to none, row 2 to expert 1.
  at::manual_seed(8);
  auto experts = make_experts(kExperts);
  const at::Tensor x = at::randn({3, kDim});
  const at::Tensor rows = at::tensor({0, 2, 0}, at::kLong);
  const at::Tensor which = at::tensor({2, 1, 1}, at::kLong);
  const at::Tensor gates = at::tensor({0.25f, 0.5f, 0.75f});
  at::Tensor counts;
  const at::Tensor out =
      dispatch_assignments(x, rows, which, gates, kExperts, linear_experts(experts), &counts);
  at::NoGradGuard no_grad;
  expect_close(out[0], 0.25 * experts[2]->forward(x[0]) + 0.75 * experts[1]->forward(x[0]),
               "row 0");
  expect_close(out[1], at::zeros({kOut}), "row 1");
  expect_close(out[2], 0.5 * experts[1]->forward(x[2]), "row 2");
  EXPECT_TRUE(at::equal(counts, at::tensor({0, 2, 1, 0}, at::kLong)));
}

TEST(DispatchTest, NoAssignmentsGiveZerosForEveryRow) {
  at::manual_seed(9);
  auto experts = make_experts(kExperts);
  const at::Tensor x = at::randn({2, kDim});
  const at::Tensor none = at::zeros({0}, at::kLong);
  int calls = 0;
  const ExpertFn fn = [&](int64_t e, const at::Tensor& r) {
    ++calls;
    EXPECT_EQ(r.size(0), 0) << "no expert sees a row";
    return experts[static_cast<std::size_t>(e)]->forward(r);
  };
  at::Tensor counts;
  const at::Tensor out = dispatch_assignments(x, none, none, at::zeros({0}), kExperts, fn, &counts);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(at::equal(out, at::zeros({2, kOut})));
  EXPECT_TRUE(at::equal(counts, at::zeros({kExperts}, at::kLong)));
}

}  // namespace
}  // namespace moedil::model::moe
