#pragma once
// Online EWC (Schwarz et al. 2018, "Progress & Compress"), strategy "ewc". After every domain
// the diagonal Fisher information of that domain is estimated on its training split,
//   F_domain[p] = mean over the domain's training batches of (d L_batch / d theta_p)^2
// (L_batch: mean cross-entropy of the batch, the model in evaluation mode, no augmentation),
// folded into a running estimate F := gamma * F + F_domain, and the weights theta* are kept.
// While training every later domain the loss gets
//   lambda / 2 * sum_p F[p] * (theta_p - theta*_p)^2.
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"

namespace moedil::train {

class EwcPlugin : public TrainerPlugin {
 public:
  explicit EwcPlugin(const config::StrategyConfig& config)
      : lambda_(config.ewc_lambda), gamma_(config.ewc_gamma) {}
  std::string name() const override { return "ewc"; }
  std::string describe() const override;
  at::Tensor loss_term(TrainingState& state, const TrainBatch&, const at::Tensor&) override;
  void on_domain_end(TrainingState& state) override;
  nlohmann::json save_state(PluginTensors& tensors) const override;
  void load_state(const nlohmann::json& state, const PluginTensors& tensors) override;

  /// The running Fisher and the anchor weights, one per model parameter (empty before the
  /// first domain ended).
  const std::vector<at::Tensor>& fisher() const { return fisher_; }
  const std::vector<at::Tensor>& anchor() const { return anchor_; }

 private:
  double lambda_;
  double gamma_;
  std::vector<at::Tensor> fisher_;
  std::vector<at::Tensor> anchor_;
};

/// The penalty lambda / 2 * sum_p F[p] (theta_p - theta*_p)^2 over `params` (a scalar float).
at::Tensor ewc_penalty(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& fisher,
                       const std::vector<at::Tensor>& anchor, double lambda);

}  // namespace moedil::train
