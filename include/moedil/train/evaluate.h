#pragma once
// Evaluation of a model on one split or several: pure (inference mode, eval mode, training mode
// restored after; only the evaluation usage counters change).
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

/// One split, batch after batch (every batch on all of LibTorch's threads); the observer sees
/// the batches in order.
Evaluation evaluate(model::ClassifierImpl& model, const data::Batches& batches,
                    int64_t num_classes, const BatchObserver& on_batch = {});

/// Several splits, each as evaluate() would give it: the usage of split i counts split i's
/// batches alone, and the model's evaluation counters end as after the last split.
///
/// On the CPU with more than one thread, when the model is parallel_eval_safe(), no mixture
/// records its gates and autocast is off, the batches of all splits are shared out over the
/// threads, each batch on one thread (small products gain little from a second thread; two
/// batches at once gain nearly two). The results are combined batch by batch in order, so they
/// do not depend on which thread ran which batch: the same numbers on every run with the same
/// thread count. They can differ in the last bits from one thread evaluating everything.
/// share_batches = false evaluates batch after batch on all threads (benches and tests).
std::vector<Evaluation> evaluate_splits(model::ClassifierImpl& model,
                                        const std::vector<const data::Batches*>& splits,
                                        int64_t num_classes, bool share_batches = true);

/// Whether evaluate_splits shares batches out over threads for this model now (see above).
bool evaluates_in_parallel(const model::ClassifierImpl& model);

}  // namespace moedil::train
