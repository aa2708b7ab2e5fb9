#pragma once
// Evaluation of a model on one split: pure (no_grad, eval mode, training mode restored after;
// only the evaluation usage counters change).
#include <functional>
#include <vector>

#include "moedil/data/batching.h"
#include "moedil/model/classifier.h"

namespace moedil::train {

struct Evaluation {
  double acc = 0.0;
  double loss = 0.0;                   ///< mean cross-entropy
  std::vector<int64_t> confusion;      ///< row-major [truth * C + pred]
  std::vector<model::ExpertUsage> usage;  ///< rows routed per expert during this evaluation
};

/// Sees every evaluated batch: its normalised images, labels and the model's logits.
using BatchObserver =
    std::function<void(const at::Tensor& images, const at::Tensor& labels, const at::Tensor& logits)>;

Evaluation evaluate(model::ClassifierImpl& model, const data::Batches& batches,
                    int64_t num_classes, const BatchObserver& on_batch = {});

}  // namespace moedil::train
