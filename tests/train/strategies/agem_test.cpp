// A-GEM: the projection against hand computations; the memory holds finished domains only.
#include "moedil/train/strategies/agem.h"

#include <gtest/gtest.h>

#include <set>

#include "../rig.h"

namespace moedil::train {
namespace {

TEST(Agem, OpposingGradientsAreProjectedOntoTheReferencesNormalPlane) {
  std::vector<at::Tensor> g = {at::tensor({1.0}), at::tensor({0.0})};
  const std::vector<at::Tensor> r = {at::tensor({-1.0}), at::tensor({1.0})};
  ASSERT_TRUE(agem_project(g, r));
  // g - (g.r / r.r) r = (1, 0) - (-1 / 2) (-1, 1) = (0.5, 0.5), orthogonal to r.
  EXPECT_DOUBLE_EQ(g[0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(g[1].item<double>(), 0.5);
}

TEST(Agem, AgreeingGradientsStayAsTheyAre) {
  std::vector<at::Tensor> g = {at::tensor({1.0, 1.0})};
  EXPECT_FALSE(agem_project(g, {at::tensor({1.0, 0.0})}));
  EXPECT_TRUE(g[0].equal(at::tensor({1.0, 1.0})));
  std::vector<at::Tensor> orthogonal = {at::tensor({0.0, 1.0})};
  EXPECT_FALSE(agem_project(orthogonal, {at::tensor({1.0, 0.0})}));
}

TEST(Agem, AMissingGradientCountsAsZerosAndCanBeGivenOne) {
  std::vector<at::Tensor> g = {at::Tensor(), at::tensor({1.0})};
  const std::vector<at::Tensor> r = {at::tensor({2.0}), at::tensor({-1.0})};
  ASSERT_TRUE(agem_project(g, r));
  // g.r = -1, r.r = 5: g - (-0.2) r = (0.4, 0.8).
  ASSERT_TRUE(g[0].defined());
  EXPECT_NEAR(g[0].item<double>(), 0.4, 1e-12);
  EXPECT_NEAR(g[1].item<double>(), 0.8, 1e-12);
}

/// At every domain start: the domains the memory holds.
struct Observe : TrainerPlugin {
  explicit Observe(const AgemPlugin& a) : agem(a) {}
  std::string name() const override { return "observe"; }
  void on_domain_start(TrainingState&) override {
    std::set<int64_t> held;
    for (const auto& [domain, count] : agem.memory().count_by_domain()) held.insert(domain);
    memory_domains.push_back(held);
    projections.push_back(agem.projections());
  }
  const AgemPlugin& agem;
  std::vector<std::set<int64_t>> memory_domains;
  std::vector<int64_t> projections;
};

TEST(Agem, TheMemoryHoldsFinishedDomainsAndConstrainsLaterOnes) {
  Rig rig(R"({"strategy": "agem", "replay": {"capacity": 30, "ratio": 1.0}})");
  auto trainer = rig.trainer();
  const auto* agem = dynamic_cast<const AgemPlugin*>(trainer->plugins().back());
  ASSERT_NE(agem, nullptr);
  Observe observe(*agem);
  trainer->add_plugin(&observe);
  trainer->run();
  ASSERT_EQ(observe.memory_domains.size(), 3u);
  EXPECT_TRUE(observe.memory_domains[0].empty());
  EXPECT_EQ(observe.memory_domains[1], (std::set<int64_t>{0}));
  EXPECT_EQ(observe.memory_domains[2], (std::set<int64_t>{0, 1}));
  // Nothing to project against in domain 0; across domains 1 and 2 some steps were projected.
  EXPECT_EQ(observe.projections[1], 0);
  EXPECT_GT(agem->projections(), 0);
  EXPECT_EQ(agem->memory().size(), 30);
}

}  // namespace
}  // namespace moedil::train
