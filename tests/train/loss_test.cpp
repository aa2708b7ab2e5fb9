#include "moedil/train/loss.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/Context.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::train {
namespace {

using Rows = std::vector<std::vector<double>>;

at::Tensor matrix(const Rows& rows, at::ScalarType type = at::kFloat) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return at::tensor(at::ArrayRef<double>(flat), at::kDouble)
      .reshape({static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())})
      .to(type);
}

at::Tensor labels(const std::vector<int64_t>& values) {
  return at::tensor(at::ArrayRef<int64_t>(values), at::kLong);
}

/// log softmax of one row, by hand.
std::vector<double> log_softmax(const std::vector<double>& row) {
  double sum = 0.0;
  for (const double x : row) sum += std::exp(x);
  std::vector<double> out;
  for (const double x : row) out.push_back(x - std::log(sum));
  return out;
}

/// sum_i w[y_i] (-log p_i) / sum_i w[y_i], by hand.
double weighted_ce(const Rows& rows, const std::vector<int64_t>& targets,
                   const std::vector<double>& w) {
  double num = 0.0;
  double den = 0.0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto t = static_cast<std::size_t>(targets[i]);
    num += -w[t] * log_softmax(rows[i])[t];
    den += w[t];
  }
  return num / den;
}

double value(const at::Tensor& t) { return t.item<double>(); }

void expect_weights(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t c = 0; c < want.size(); ++c) EXPECT_NEAR(got[c], want[c], 1e-9) << "class " << c;
}

config::LossConfig loss_config(const std::string& name) {
  config::LossConfig c;
  c.name = name;
  return c;
}

// Row 1's target is not its largest logit, so the two rows' losses differ (weights matter).
const Rows kRows{{1.0, 2.0, 3.0}, {0.5, -1.0, 1.5}};
const std::vector<int64_t> kTargets{2, 0};

TEST(Loss, CrossEntropyMatchesAHandLogSoftmax) {
  auto loss = make_loss(loss_config("cross_entropy"), 3);
  const double want = -(log_softmax(kRows[0])[2] + log_softmax(kRows[1])[0]) / 2.0;
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))), want, 1e-6);
  EXPECT_TRUE(loss->class_weights().empty());
}

TEST(Loss, LabelSmoothingMixesInTheMeanOverClasses) {
  config::LossConfig c = loss_config("cross_entropy");
  c.label_smoothing = 0.1;
  auto loss = make_loss(c, 3);
  // l_i = (1 - eps) (-log p_{i,y_i}) + eps / C * sum_c (-log p_{i,c})
  double want = 0.0;
  for (std::size_t i = 0; i < kRows.size(); ++i) {
    const auto lp = log_softmax(kRows[i]);
    const double all = -(lp[0] + lp[1] + lp[2]);
    want += (0.9 * -lp[static_cast<std::size_t>(kTargets[i])] + 0.1 / 3.0 * all) / 2.0;
  }
  const double got = value((*loss)(matrix(kRows), labels(kTargets)));
  EXPECT_NEAR(got, want, 1e-6);
  const double plain = -(log_softmax(kRows[0])[2] + log_softmax(kRows[1])[0]) / 2.0;
  EXPECT_GT(std::abs(got - plain), 1e-2);
}

TEST(Loss, FocalWithGammaZeroAndNoAlphaIsCrossEntropy) {
  at::manual_seed(3);
  const at::Tensor logits = at::randn({8, 5}) * 3.0;
  const at::Tensor targets = at::randint(5, {8}, at::kLong);
  config::LossConfig c = loss_config("focal");
  c.gamma = 0.0;
  auto focal = make_loss(c, 5);
  auto ce = make_loss(loss_config("cross_entropy"), 5);
  const double want = value((*ce)(logits, targets));
  EXPECT_NEAR(value((*focal)(logits, targets)), want, 1e-6);
  // With the default gamma 2 it is smaller: every term is scaled by (1 - p)^2 < 1.
  auto focal2 = make_loss(loss_config("focal"), 5);
  EXPECT_LT(value((*focal2)(logits, targets)), want - 1e-3);
}

const Rows kBinary{{2.0, 0.0}, {0.0, 1.0}};

TEST(Loss, FocalGammaTwoScalesEachTermByOneMinusPSquared) {
  config::LossConfig c = loss_config("focal");
  c.gamma = 2.0;
  auto loss = make_loss(c, 2);
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 1.0);  // easy: target 0 has the larger logit
  const double p1 = 1.0 / (1.0 + std::exp(1.0));            // hard: target 0 has the smaller one
  const double want =
      (-(1 - p0) * (1 - p0) * std::log(p0) - (1 - p1) * (1 - p1) * std::log(p1)) / 2.0;
  EXPECT_NEAR(value((*loss)(matrix(kBinary), labels({0, 0}))), want, 1e-6);
  EXPECT_TRUE(loss->class_weights().empty());
}

TEST(Loss, FocalAlphaListWeightsEachSampleByItsTargetClass) {
  config::LossConfig c = loss_config("focal");
  c.gamma = 2.0;
  c.alpha = "list";
  c.alpha_values = {0.25, 0.75};
  auto loss = make_loss(c, 2);
  const double p0 = std::exp(2.0) / (std::exp(2.0) + 1.0);  // row 0, target 0
  const double p1 = std::exp(1.0) / (1.0 + std::exp(1.0));  // row 1, target 1
  const double want =
      (-0.25 * (1 - p0) * (1 - p0) * std::log(p0) - 0.75 * (1 - p1) * (1 - p1) * std::log(p1)) /
      2.0;
  EXPECT_NEAR(value((*loss)(matrix(kBinary), labels({0, 1}))), want, 1e-6);
  expect_weights(loss->class_weights(), {0.25, 0.75});
  // Domains do not change a given list.
  loss->on_domain_start(labels({0, 0, 0}));
  expect_weights(loss->class_weights(), {0.25, 0.75});
}

/// Focal with gamma 2 and per-class alpha, by hand.
double focal_by_hand(const Rows& rows, const std::vector<int64_t>& targets,
                     const std::vector<double>& alpha) {
  double sum = 0.0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto t = static_cast<std::size_t>(targets[i]);
    const double lp = log_softmax(rows[i])[t];
    const double q = 1.0 - std::exp(lp);
    sum += -alpha[t] * q * q * lp;
  }
  return sum / static_cast<double>(rows.size());
}

TEST(Loss, FocalAlphaAutoIsInverseFrequencyWithMeanOneOverPresentClasses) {
  config::LossConfig c = loss_config("focal");
  c.gamma = 2.0;
  c.alpha = "auto";
  auto loss = make_loss(c, 3);
  // Before the first domain: weight 1 for every class.
  expect_weights(loss->class_weights(), {1.0, 1.0, 1.0});
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))),
              focal_by_hand(kRows, kTargets, {1.0, 1.0, 1.0}), 1e-6);
  // Counts 3, 1, 0: inverse 1/3, 1, mean 2/3 -> 0.5, 1.5; absent class 2 gets the largest, 1.5.
  loss->on_domain_start(labels({0, 0, 0, 1}));
  expect_weights(loss->class_weights(), {0.5, 1.5, 1.5});
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))),
              focal_by_hand(kRows, kTargets, {0.5, 1.5, 1.5}), 1e-6);
  // Only the current domain counts: 0, 1, 2 -> inverse 1, 1/2, mean 3/4 -> 4/3, 2/3; 0 -> 4/3.
  loss->on_domain_start(labels({2, 2, 1}));
  expect_weights(loss->class_weights(), {4.0 / 3.0, 4.0 / 3.0, 2.0 / 3.0});
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))),
              focal_by_hand(kRows, kTargets, {4.0 / 3.0, 4.0 / 3.0, 2.0 / 3.0}), 1e-6);
}

// The predecessor's weight_cumulative on focal's auto alpha: averaged with the previous alpha.
TEST(Loss, FocalAlphaAutoCumulativeAveragesWithThePreviousAlpha) {
  config::LossConfig c = loss_config("focal");
  c.gamma = 2.0;
  c.alpha = "auto";
  c.weight_cumulative = true;
  auto loss = make_loss(c, 3);
  loss->on_domain_start(labels({0, 0, 0, 1}));  // 0.5, 1.5, 1.5 (see above), averaged with 1
  expect_weights(loss->class_weights(), {0.75, 1.25, 1.25});
  loss->on_domain_start(labels({2, 2, 1}));  // 4/3, 4/3, 2/3 averaged with the above
  const std::vector<double> second{(0.75 + 4.0 / 3.0) / 2, (1.25 + 4.0 / 3.0) / 2,
                                   (1.25 + 2.0 / 3.0) / 2};
  expect_weights(loss->class_weights(), second);
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))),
              focal_by_hand(kRows, kTargets, second), 1e-6);
  // A given alpha list is never averaged.
  c.alpha = "list";
  c.alpha_values = {0.2, 0.3, 0.5};
  auto listed = make_loss(c, 3);
  listed->on_domain_start(labels({0, 0, 0, 1}));
  expect_weights(listed->class_weights(), {0.2, 0.3, 0.5});
}

const Rows kFour{{0.5, -1.0, 2.0, 0.0}, {1.0, 1.0, -2.0, 0.5}, {0.0, 0.3, 0.1, -0.7}};
const std::vector<int64_t> kFourTargets{0, 2, 3};

TEST(Loss, WeightedCrossEntropyWeightsAreBalancedInverseFrequencyCapped) {
  // 6 x class 0, 3 x class 1, 1 x class 2, class 3 absent: N = 10, 3 classes present.
  const at::Tensor domain = labels({0, 1, 0, 0, 2, 1, 0, 0, 1, 0});
  config::LossConfig c = loss_config("weighted_cross_entropy");
  c.weight_upper_limit = 10.0;
  auto loss = make_loss(c, 4);
  loss->on_domain_start(domain);
  const std::vector<double> uncapped{10.0 / 18.0, 10.0 / 9.0, 10.0 / 3.0, 10.0};
  expect_weights(loss->class_weights(), uncapped);
  EXPECT_NEAR(value((*loss)(matrix(kFour), labels(kFourTargets))),
              weighted_ce(kFour, kFourTargets, uncapped), 1e-6);

  c.weight_upper_limit = 2.0;
  auto capped_loss = make_loss(c, 4);
  capped_loss->on_domain_start(domain);
  const std::vector<double> capped{10.0 / 18.0, 10.0 / 9.0, 2.0, 2.0};
  expect_weights(capped_loss->class_weights(), capped);
  EXPECT_NEAR(value((*capped_loss)(matrix(kFour), labels(kFourTargets))),
              weighted_ce(kFour, kFourTargets, capped), 1e-6);
}

TEST(Loss, WeightedCrossEntropyIsPlainCrossEntropyBeforeTheFirstDomain) {
  auto loss = make_loss(loss_config("weighted_cross_entropy"), 4);
  expect_weights(loss->class_weights(), {1.0, 1.0, 1.0, 1.0});
  EXPECT_NEAR(value((*loss)(matrix(kFour), labels(kFourTargets))),
              weighted_ce(kFour, kFourTargets, {1.0, 1.0, 1.0, 1.0}), 1e-6);
}

TEST(Loss, WeightedCrossEntropyAllDomainsCountsEveryDomainSoFar) {
  config::LossConfig c = loss_config("weighted_cross_entropy");
  c.weight_upper_limit = 10.0;
  auto per_domain = make_loss(c, 3);
  c.weight_counts = "all_domains";
  auto cumulative = make_loss(c, 3);
  const at::Tensor a = labels({0, 0, 0, 1});
  const at::Tensor b = labels({1, 1, 2, 2});
  // Domain A alone: counts 3, 1, 0 -> 4/6, 4/2, limit.
  for (auto* loss : {per_domain.get(), cumulative.get()}) {
    loss->on_domain_start(a);
    expect_weights(loss->class_weights(), {4.0 / 6.0, 2.0, 10.0});
    EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))),
                weighted_ce(kRows, kTargets, {4.0 / 6.0, 2.0, 10.0}), 1e-6);
    loss->on_domain_start(b);
  }
  // Per domain, B: counts 0, 2, 2 -> limit, 1, 1.
  expect_weights(per_domain->class_weights(), {10.0, 1.0, 1.0});
  EXPECT_NEAR(value((*per_domain)(matrix(kRows), labels(kTargets))),
              weighted_ce(kRows, kTargets, {10.0, 1.0, 1.0}), 1e-6);
  // Cumulative, A + B: counts 3, 3, 2 -> 8/9, 8/9, 8/6.
  expect_weights(cumulative->class_weights(), {8.0 / 9.0, 8.0 / 9.0, 8.0 / 6.0});
  EXPECT_NEAR(value((*cumulative)(matrix(kRows), labels(kTargets))),
              weighted_ce(kRows, kTargets, {8.0 / 9.0, 8.0 / 9.0, 8.0 / 6.0}), 1e-6);
}

// The predecessor's weight_cumulative: each domain's weights are averaged with the previous
// ones (ones before the first domain), w := (w_previous + w_domain) / 2.
TEST(Loss, WeightedCrossEntropyCumulativeAveragesWithThePreviousWeights) {
  config::LossConfig c = loss_config("weighted_cross_entropy");
  c.weight_upper_limit = 10.0;
  c.weight_cumulative = true;
  auto loss = make_loss(c, 3);
  // Domain A: counts 3, 1, 0 -> 4/6, 2, limit; averaged with ones.
  loss->on_domain_start(labels({0, 0, 0, 1}));
  const std::vector<double> a{(1.0 + 4.0 / 6.0) / 2, (1.0 + 2.0) / 2, (1.0 + 10.0) / 2};
  expect_weights(loss->class_weights(), a);
  EXPECT_NEAR(value((*loss)(matrix(kRows), labels(kTargets))), weighted_ce(kRows, kTargets, a),
              1e-6);
  // Domain B: counts 0, 2, 2 -> limit, 1, 1; averaged with A's.
  loss->on_domain_start(labels({1, 1, 2, 2}));
  const std::vector<double> b{(a[0] + 10.0) / 2, (a[1] + 1.0) / 2, (a[2] + 1.0) / 2};
  expect_weights(loss->class_weights(), b);
  // Both: the average of the weights from every domain's counts so far.
  c.weight_counts = "all_domains";
  auto both = make_loss(c, 3);
  both->on_domain_start(labels({0, 0, 0, 1}));
  expect_weights(both->class_weights(), a);
  both->on_domain_start(labels({1, 1, 2, 2}));  // counts 3, 3, 2 -> 8/9, 8/9, 8/6
  expect_weights(both->class_weights(),
                 {(a[0] + 8.0 / 9.0) / 2, (a[1] + 8.0 / 9.0) / 2, (a[2] + 8.0 / 6.0) / 2});
}

TEST(Loss, CrossEntropyGradientIsSoftmaxMinusOneHotOverB) {
  auto loss = make_loss(loss_config("cross_entropy"), 3);
  const at::Tensor logits = matrix(kRows, at::kDouble).requires_grad_(true);
  (*loss)(logits, labels(kTargets)).backward();
  ASSERT_TRUE(logits.grad().defined());
  for (std::size_t i = 0; i < kRows.size(); ++i) {
    const auto lp = log_softmax(kRows[i]);
    for (std::size_t k = 0; k < 3; ++k) {
      const double want = (std::exp(lp[k]) - (static_cast<int64_t>(k) == kTargets[i])) / 2.0;
      EXPECT_NEAR(logits.grad()[i][k].item<double>(), want, 1e-6) << i << "," << k;
    }
  }
}

TEST(Loss, EveryLossSendsAFiniteNonZeroGradientToTheLogits) {
  at::manual_seed(5);
  const at::Tensor targets = at::randint(4, {6}, at::kLong);
  for (const auto& name : loss_registry().names()) {
    const at::Tensor logits = at::randn({6, 4}).requires_grad_(true);
    auto loss = make_loss(loss_config(name), 4);
    loss->on_domain_start(labels({0, 0, 0, 1, 2, 2}));
    (*loss)(logits, targets).backward();
    ASSERT_TRUE(logits.grad().defined()) << name;
    EXPECT_TRUE(logits.grad().isfinite().all().item<bool>()) << name;
    EXPECT_GT(logits.grad().abs().sum().item<double>(), 1e-4) << name;
  }
}

TEST(Loss, FocalGradientStaysFiniteWhenACorrectSampleIsCertain) {
  config::LossConfig c = loss_config("focal");
  c.gamma = 0.5;  // (1 - p)^0.5 has an infinite slope at p = 1
  auto loss = make_loss(c, 2);
  const at::Tensor logits = matrix({{100.0, 0.0}, {0.0, 1.0}}).requires_grad_(true);
  (*loss)(logits, labels({0, 0})).backward();
  EXPECT_TRUE(logits.grad().isfinite().all().item<bool>()) << logits.grad();
  EXPECT_GT(logits.grad().abs().sum().item<double>(), 1e-3);
}

TEST(Loss, WeightsFollowTheLogitsDtype) {
  config::LossConfig c = loss_config("weighted_cross_entropy");
  auto weighted = make_loss(c, 4);
  c = loss_config("focal");
  c.alpha = "auto";
  auto focal = make_loss(c, 4);
  for (auto* loss : {weighted.get(), focal.get()}) {
    loss->on_domain_start(labels({0, 1, 0, 0, 2, 1}));
    const double in_double = value((*loss)(matrix(kFour, at::kDouble), labels(kFourTargets)));
    const double in_float = value((*loss)(matrix(kFour, at::kFloat), labels(kFourTargets)));
    EXPECT_NEAR(in_float, in_double, 1e-6);
  }
}

TEST(Loss, WeightsFollowTheLogitsDevice_CUDA) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  auto loss = make_loss(loss_config("weighted_cross_entropy"), 4);
  loss->on_domain_start(labels({0, 1, 0, 0, 2, 1}));
  const double on_cpu = value((*loss)(matrix(kFour), labels(kFourTargets)));
  const double on_gpu = value((*loss)(matrix(kFour).cuda(), labels(kFourTargets).cuda()));
  EXPECT_NEAR(on_gpu, on_cpu, 1e-6);
}

TEST(Loss, RegistryListsTheLossesAndSuggestsTheClosestName) {
  EXPECT_EQ(loss_registry().names(),
            (std::vector<std::string>{"cross_entropy", "focal", "weighted_cross_entropy"}));
  for (const auto& entry : loss_registry().entries()) {
    EXPECT_FALSE(entry.description.empty()) << entry.name;
    EXPECT_EQ(entry.description.find('\n'), std::string::npos) << entry.name;
  }
  try {
    make_loss(loss_config("focall"), 3);
    FAIL() << "no error for an unknown loss";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("unknown loss 'focall'"), std::string::npos) << m;
    EXPECT_NE(m.find("did you mean 'focal'"), std::string::npos) << m;
  }
}

TEST(Loss, FocalAlphaListOfTheWrongSizeNamesTheKeyAndBothSizes) {
  config::LossConfig c = loss_config("focal");
  c.alpha = "list";
  c.alpha_values = {1.0, 2.0};
  try {
    make_loss(c, 3);
    FAIL() << "no error for 2 alpha values and 3 classes";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("loss.alpha"), std::string::npos) << m;
    EXPECT_NE(m.find("2 values"), std::string::npos) << m;
    EXPECT_NE(m.find("3 classes"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(make_loss(c, 2));
  c.alpha = "inverse";
  EXPECT_THROW(make_loss(c, 2), ConfigError);
  // Losses that do not use alpha ignore it.
  c.alpha = "list";
  c.name = "cross_entropy";
  EXPECT_NO_THROW(make_loss(c, 3));
}

TEST(Loss, LabelsOutsideTheClassesAreADataError) {
  auto loss = make_loss(loss_config("weighted_cross_entropy"), 3);
  EXPECT_THROW(loss->on_domain_start(labels({0, 3})), DataError);
  EXPECT_THROW(loss->on_domain_start(labels({-1, 0})), DataError);
  EXPECT_NO_THROW(loss->on_domain_start(labels({})));
  expect_weights(loss->class_weights(), {1.0, 1.0, 1.0});
}

}  // namespace
}  // namespace moedil::train
