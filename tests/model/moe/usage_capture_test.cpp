#include "moedil/model/moe/usage_capture.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include "moedil/common/error.h"
#include "moedil/model/moe/mixture.h"

namespace moedil::model::moe {
namespace {

/// 4 rows over 3 experts, top-1 (rows 0, 1, 3 -> expert 2; row 2 -> expert 0), probabilities
/// shifted by `shift` so two routings have different entropies.
Routing routing(double shift) {
  Routing r;
  r.probs = at::softmax(at::tensor({0.1, 0.2, 0.7, 0.2, 0.2, 0.6, 0.5, 0.3, 0.2, 0.1, 0.1, 0.8},
                                   at::kFloat)
                                .reshape({4, 3}) *
                            (1.0 + shift),
                        1);
  r.logits = r.probs.log();
  r.expert_idx = at::tensor({2, 2, 0, 2}, at::kLong).reshape({4, 1});
  r.gates = r.probs.gather(1, r.expert_idx);
  r.available = at::ones({3}, at::kBool);
  return r;
}

ExpertFn doubling() {
  return [](int64_t, const at::Tensor& rows) { return rows * 2.0; };
}

TEST(UsageCapture, EvaluationForwardsAreHeldBackAndLeaveTheMixtureAlone) {
  Mixture mixture(MixtureOptions(3));
  const at::Tensor rows = at::ones({4, 2});
  mixture.forward(routing(0.0), rows, doubling(), /*training=*/true);  // a balance loss
  std::vector<UsageCapture::Entry> entries;
  at::Tensor out;
  {
    UsageCapture capture;
    EXPECT_EQ(UsageCapture::active(), &capture);
    out = mixture.forward(routing(0.0), rows, doubling(), /*training=*/false);
    mixture.forward(routing(0.5), rows, doubling(), /*training=*/false);
    entries = capture.take();
    EXPECT_TRUE(capture.take().empty()) << "take() forgets what it returned";
  }
  EXPECT_EQ(UsageCapture::active(), nullptr);
  EXPECT_TRUE(out.allclose(rows * 2.0 * routing(0.0).gates)) << "the output is not held back";
  EXPECT_EQ(mixture.usage(false), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_DOUBLE_EQ(mixture.routing_entropy(false), 0.0);
  EXPECT_TRUE(mixture.balance_loss().defined()) << "the training forward's loss stays";
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& e : entries) {
    EXPECT_EQ(e.mixture, &mixture);
    EXPECT_EQ(e.delta.rows, 4);
    EXPECT_TRUE(e.delta.used.equal(at::tensor({1, 0, 3}, at::kLong)));
  }
  // A training forward is never held back.
  {
    UsageCapture capture;
    mixture.forward(routing(0.0), rows, doubling(), /*training=*/true);
    EXPECT_TRUE(capture.take().empty());
  }
  EXPECT_EQ(mixture.usage(true), (std::vector<int64_t>{2, 0, 6}));
}

TEST(UsageCapture, AppliedInOrderTheCountersEqualThoseOfDirectForwards) {
  Mixture direct(MixtureOptions(3).capacity_factor(1.0));  // capacity: rows are dropped
  Mixture held(MixtureOptions(3).capacity_factor(1.0));
  const at::Tensor rows = at::ones({4, 2});
  std::vector<UsageCapture::Entry> entries;
  {
    UsageCapture capture;
    for (double shift : {0.0, 0.5, 1.5}) held.forward(routing(shift), rows, doubling(), false);
    entries = capture.take();
  }
  for (double shift : {0.0, 0.5, 1.5}) direct.forward(routing(shift), rows, doubling(), false);
  held.forward(routing(0.0), rows, doubling(), /*training=*/true);  // a loss to be cleared
  for (const auto& e : entries) e.mixture->add_usage(/*training=*/false, e.delta);
  EXPECT_EQ(held.usage(false), direct.usage(false));
  EXPECT_GT(direct.dropped_fraction(false), 0.0) << "the fixture must drop rows";
  EXPECT_EQ(held.dropped_fraction(false), direct.dropped_fraction(false));
  // The same float additions in the same order: the same bits.
  EXPECT_EQ(held.routing_entropy(false), direct.routing_entropy(false));
  EXPECT_FALSE(held.balance_loss().defined()) << "as after an evaluation forward";
  EXPECT_EQ(held.usage(true), (std::vector<int64_t>{1, 0, 2}))
      << "training counters apart (capacity 2: one of the three rows for expert 2 dropped)";
}

TEST(UsageCapture, CapturesNestAndRecordingIsRefused) {
  Mixture mixture(MixtureOptions(3));
  const at::Tensor rows = at::ones({4, 2});
  UsageCapture outer;
  {
    UsageCapture inner;
    EXPECT_EQ(UsageCapture::active(), &inner);
    mixture.forward(routing(0.0), rows, doubling(), false);
    EXPECT_EQ(inner.take().size(), 1u);
  }
  EXPECT_EQ(UsageCapture::active(), &outer);
  EXPECT_TRUE(outer.take().empty());
  mixture.set_recording(true);
  try {
    mixture.forward(routing(0.0), rows, doubling(), false);
    FAIL() << "recording under a capture must be refused";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("one batch at a time"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::model::moe
