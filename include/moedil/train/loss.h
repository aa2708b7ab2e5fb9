#pragma once
// Loss registry: config `loss.name` -> the training loss (cross_entropy, focal,
// weighted_cross_entropy). Evaluation always reports plain cross-entropy; these are for training.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"

namespace moedil::train {

/// A training loss. Some depend on the class frequencies of the current domain's training labels.
class Loss {
 public:
  virtual ~Loss() = default;
  /// Called when a new domain starts, with that domain's training labels (int64 [N], CPU) —
  /// before any batch of it. Labels must lie in [0, num_classes) (DataError otherwise).
  virtual void on_domain_start(const at::Tensor& /*train_labels*/) {}
  /// Mean loss over the batch. logits [B, C] float, targets int64 [B] (same device).
  virtual at::Tensor operator()(const at::Tensor& logits, const at::Tensor& targets) = 0;
  /// Per-class weights currently in use (empty when none), for logging/run.json.
  virtual std::vector<double> class_weights() const { return {}; }
};

using LossBuilder =
    std::function<std::unique_ptr<Loss>(const config::LossConfig&, int64_t num_classes)>;

/// cross_entropy (label_smoothing): PyTorch's cross-entropy.
///
/// focal (gamma, alpha): mean_i -alpha[y_i] (1 - p_i)^gamma log p_i, p_i the softmax probability
/// of the target. alpha "none": 1; "list": alpha_values (one per class); "auto": inverse class
/// frequency of the current domain's training labels, scaled so the present classes' weights
/// have mean 1; a class absent from the domain gets the largest present weight; 1 for every
/// class before the first domain; with weight_cumulative (the predecessor's) each domain's auto
/// alpha is averaged with the previous one: w := (w_previous + w) / 2. gamma 0 with alpha "none"
/// is cross-entropy.
///
/// weighted_cross_entropy (weight_upper_limit, weight_counts, weight_cumulative): cross-entropy
/// with class weights w_c = min(N / (C_present n_c), weight_upper_limit) (sklearn's "balanced":
/// the weights average 1 over the counted samples), n_c the count of class c among the current
/// domain's training labels, or with weight_counts "all_domains" among those of every domain so
/// far; N their sum, C_present the number of classes with n_c > 0. A class not counted gets
/// weight_upper_limit. With weight_cumulative (the predecessor's) each domain's weights are then
/// averaged with the previous ones: w := (w_previous + w) / 2. The batch loss is the weighted
/// mean sum_i w[y_i] l_i / sum_i w[y_i] (PyTorch's definition). All weights are 1 before the
/// first domain. label_smoothing is not used.
const Registry<LossBuilder>& loss_registry();

/// Throws ConfigError for an unknown name (Registry does this), for a focal alpha other than
/// none/auto/list, and for focal alpha "list" whose size != num_classes (the message names
/// loss.alpha and both sizes).
std::unique_ptr<Loss> make_loss(const config::LossConfig& c, int64_t num_classes);

}  // namespace moedil::train
