#pragma once
// Learning without Forgetting (Li & Hoiem 2016), strategy "lwf". At the end of every domain a
// frozen copy of the model is kept; while training every later domain the loss gets
//   alpha * KL(softmax(old(x) / T) || softmax(new(x) / T)),
// averaged over the batch's rows (KL summed over classes), with `old` the copy in evaluation
// mode and x every row of the batch (replayed rows included). As Avalanche's LwF: no T^2 factor.
#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"

namespace moedil::train {

class LwfPlugin : public TrainerPlugin {
 public:
  LwfPlugin(const config::StrategyConfig& config, ModelFactory make_model)
      : alpha_(config.lwf_alpha), temperature_(config.lwf_temperature),
        make_model_(std::move(make_model)) {}
  std::string name() const override { return "lwf"; }
  std::string describe() const override;
  at::Tensor loss_term(TrainingState& state, const TrainBatch& batch,
                       const at::Tensor& logits) override;
  void on_domain_end(TrainingState& state) override;
  nlohmann::json save_state(PluginTensors& tensors) const override;
  void load_state(const nlohmann::json& state, const PluginTensors& tensors) override;
  /// The previous domain's model (null before the first domain ended).
  const model::Classifier& teacher() const { return teacher_; }

 private:
  /// Copies `from`'s parameters and buffers into a fresh model (evaluation mode, no gradients).
  void keep(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& buffers);

  double alpha_;
  double temperature_;
  ModelFactory make_model_;
  model::Classifier teacher_{nullptr};
};

/// alpha * mean over rows of KL(softmax(teacher / T) || softmax(student / T)).
at::Tensor distillation_loss(const at::Tensor& student, const at::Tensor& teacher, double alpha,
                             double temperature);

}  // namespace moedil::train
