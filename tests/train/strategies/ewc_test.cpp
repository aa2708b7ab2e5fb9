// Online EWC: the penalty against a hand computation, the Fisher against an independent
// recomputation on the domain's batches, the running update, and its checkpoint state.
#include "moedil/train/strategies/ewc.h"

#include <gtest/gtest.h>

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "../rig.h"

namespace moedil::train {
namespace {

TEST(Ewc, PenaltyIsHalfLambdaTimesFisherWeightedSquaredDistance) {
  const std::vector<at::Tensor> params = {at::tensor({1.0, 2.0}), at::tensor({3.0})};
  const std::vector<at::Tensor> fisher = {at::tensor({0.5, 2.0}), at::tensor({0.25})};
  const std::vector<at::Tensor> anchor = {at::tensor({0.0, 1.0}), at::tensor({1.0})};
  // 4 / 2 * (0.5 * 1^2 + 2 * 1^2 + 0.25 * 2^2) = 2 * 3.5
  EXPECT_DOUBLE_EQ(ewc_penalty(params, fisher, anchor, 4.0).item<double>(), 7.0);
}

/// Mean over the domain's training batches of the squared gradient of the mean cross-entropy,
/// computed here independently of the plugin (evaluation mode, no augmentation).
std::vector<at::Tensor> fisher_of(model::ClassifierImpl& model, const data::Batches& batches) {
  std::vector<at::Tensor> params = model.parameters();
  std::vector<at::Tensor> sum;
  for (const auto& p : params) sum.push_back(at::zeros_like(p));
  model.eval();
  for (int64_t b = 0; b < batches.num_batches(); ++b) {
    const auto [x, y] = batches.get(b);
    const at::Tensor loss = at::cross_entropy_loss(model.forward(x), y);
    const auto grads = torch::autograd::grad({loss}, params, {}, false, false, true);
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (grads[i].defined()) sum[i] += grads[i].pow(2);
    }
  }
  model.train();
  for (auto& s : sum) s /= static_cast<double>(batches.num_batches());
  return sum;
}

/// At every domain end (after EWC's own hook): EWC's Fisher and anchor, and the Fisher of this
/// domain alone recomputed on the model as it is.
struct Observe : TrainerPlugin {
  explicit Observe(const EwcPlugin& e) : ewc(e) {}
  std::string name() const override { return "observe"; }
  void on_domain_end(TrainingState& s) override {
    domain_fisher.push_back(fisher_of(s.model, s.data.train_batches(s.pos.domain)));
    running.push_back(ewc.fisher());
    anchors.push_back(ewc.anchor());
    std::vector<at::Tensor> params;
    for (const auto& p : s.model.parameters()) params.push_back(p.detach().clone());
    weights.push_back(params);
  }
  const EwcPlugin& ewc;
  std::vector<std::vector<at::Tensor>> domain_fisher, running, anchors, weights;
};

void expect_close(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::allclose(a[i], b[i], 1e-5, 1e-9)) << "tensor " << i;
  }
}

TEST(Ewc, FisherIsTheMeanSquaredBatchGradientAndRunsWithGamma) {
  Rig rig(R"({"strategy": "ewc", "ewc": {"lambda": 10.0, "gamma": 0.5}})");
  auto trainer = rig.trainer();
  const auto* ewc = dynamic_cast<const EwcPlugin*>(trainer->plugins().back());
  ASSERT_NE(ewc, nullptr);
  Observe observe(*ewc);
  trainer->add_plugin(&observe);
  trainer->run();
  ASSERT_EQ(observe.running.size(), 3u);
  expect_close(observe.running[0], observe.domain_fisher[0]);
  for (std::size_t d = 1; d < 3; ++d) {
    std::vector<at::Tensor> expected;
    for (std::size_t i = 0; i < observe.running[d - 1].size(); ++i) {
      expected.push_back(observe.running[d - 1][i] * 0.5 + observe.domain_fisher[d][i]);
    }
    expect_close(observe.running[d], expected);
  }
  for (std::size_t d = 0; d < 3; ++d) {
    for (std::size_t i = 0; i < observe.weights[d].size(); ++i) {
      EXPECT_TRUE(observe.anchors[d][i].equal(observe.weights[d][i]));
    }
  }
  // Some parameter carries information: the Fisher is not all zeros.
  double total = 0.0;
  for (const auto& f : observe.running[0]) total += f.sum().item<double>();
  EXPECT_GT(total, 0.0);
}

TEST(Ewc, TheStateRoundTripsAndAMissingTensorIsRefused) {
  Rig rig(R"({"strategy": "ewc"})");
  auto trainer = rig.trainer();
  trainer->run();
  const auto* ewc = dynamic_cast<const EwcPlugin*>(trainer->plugins().back());
  ASSERT_NE(ewc, nullptr);
  PluginTensors tensors;
  const nlohmann::json state = ewc->save_state(tensors);
  EwcPlugin restored(rig.config.strategy);
  restored.load_state(state, tensors);
  ASSERT_EQ(restored.fisher().size(), ewc->fisher().size());
  for (std::size_t i = 0; i < ewc->fisher().size(); ++i) {
    EXPECT_TRUE(restored.fisher()[i].equal(ewc->fisher()[i]));
    EXPECT_TRUE(restored.anchor()[i].equal(ewc->anchor()[i]));
  }
  tensors.erase("anchor_0");
  EwcPlugin broken(rig.config.strategy);
  EXPECT_THROW(broken.load_state(state, tensors), DataError);
}

}  // namespace
}  // namespace moedil::train
