// LwF: the distillation loss against hand computations; the kept model is the model at the
// end of the previous domain, frozen; its checkpoint state.
#include "moedil/train/strategies/lwf.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../rig.h"

namespace moedil::train {
namespace {

TEST(Lwf, DistillationIsAlphaTimesTheBatchMeanKlAtTemperatureT) {
  const at::Tensor teacher = at::tensor({std::log(3.0), 0.0}).reshape({1, 2});
  const at::Tensor student = at::zeros({1, 2});
  // q = (3/4, 1/4), p = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2)
  EXPECT_NEAR(distillation_loss(student, teacher, 1.0, 1.0).item<double>(), 0.13081203594113713,
              1e-6);
  // T = 2 softens both; alpha scales.
  EXPECT_NEAR(distillation_loss(student, teacher, 3.0, 2.0).item<double>(),
              3 * 0.0363407828704735, 1e-6);
  // Rows are averaged: a second row (teacher uniform, student (1, 0)).
  const at::Tensor teachers = at::tensor({std::log(3.0), 0.0, 0.0, 0.0}).reshape({2, 2});
  const at::Tensor students = at::tensor({0.0, 0.0, 1.0, 0.0}).reshape({2, 2});
  EXPECT_NEAR(distillation_loss(students, teachers, 1.0, 2.0).item<double>(),
              0.033635293245317444, 1e-6);
  // Identical logits: exactly zero.
  EXPECT_NEAR(distillation_loss(teachers, teachers, 1.0, 2.0).item<double>(), 0.0, 1e-7);
}

/// At every domain end (after LwF's hook): whether the teacher equals the model.
struct Observe : TrainerPlugin {
  explicit Observe(const LwfPlugin& l) : lwf(l) {}
  std::string name() const override { return "observe"; }
  void on_domain_start(TrainingState&) override { had_teacher.push_back(lwf.teacher() != nullptr); }
  void on_domain_end(TrainingState& s) override {
    const auto mine = s.model.parameters();
    const auto kept = lwf.teacher()->parameters();
    bool same = mine.size() == kept.size();
    for (std::size_t i = 0; same && i < mine.size(); ++i) same = mine[i].equal(kept[i]);
    teacher_is_model.push_back(same);
    frozen.push_back(!lwf.teacher()->is_training() && !kept.front().requires_grad());
  }
  const LwfPlugin& lwf;
  std::vector<bool> had_teacher, teacher_is_model, frozen;
};

TEST(Lwf, KeepsTheModelOfTheDomainJustFinishedFrozen) {
  Rig rig(R"({"strategy": ["lwf"], "lwf": {"alpha": 2.0, "temperature": 3.0}})");
  auto trainer = rig.trainer();
  const auto* lwf = dynamic_cast<const LwfPlugin*>(trainer->plugins().back());
  ASSERT_NE(lwf, nullptr);
  Observe observe(*lwf);
  trainer->add_plugin(&observe);
  trainer->run();
  EXPECT_EQ(observe.had_teacher, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(observe.teacher_is_model, std::vector<bool>(3, true));
  EXPECT_EQ(observe.frozen, std::vector<bool>(3, true));
  // The state round-trips into a fresh plugin.
  PluginTensors tensors;
  const nlohmann::json state = lwf->save_state(tensors);
  LwfPlugin restored(rig.config.strategy, rig.factory);
  restored.load_state(state, tensors);
  const auto a = lwf->teacher()->parameters();
  const auto b = restored.teacher()->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].equal(b[i]));
}

TEST(Lwf, ChangesTrainingFromTheSecondDomainOnOnly) {
  Rig plain;
  plain.trainer()->run();
  Rig lwf(R"({"strategy": "lwf", "lwf": {"alpha": 5.0}})");
  lwf.trainer()->run();
  // Domain 0 has no teacher: its epochs are the same bits; later ones differ.
  EXPECT_EQ(lwf.record.epochs[0].train_loss, plain.record.epochs[0].train_loss);
  EXPECT_EQ(lwf.record.epochs[1].train_loss, plain.record.epochs[1].train_loss);
  EXPECT_NE(lwf.record.epochs[2].train_loss, plain.record.epochs[2].train_loss);
}

}  // namespace
}  // namespace moedil::train
