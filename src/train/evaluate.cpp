#include "moedil/train/evaluate.h"

#include <utility>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <c10/core/InferenceMode.h>

#include "moedil/common/stop.h"
#include "moedil/model/cpu_autocast.h"
#include "moedil/model/moe/usage_capture.h"
#include "moedil/model/parallel_pieces.h"

namespace moedil::train {

namespace {

/// What one batch adds to its split's evaluation.
struct BatchResult {
  at::Tensor loss;   ///< summed cross-entropy
  at::Tensor cells;  ///< confusion counts [C * C]
  std::vector<model::moe::UsageCapture::Entry> usage;  ///< held back (parallel only)
};

BatchResult run_batch(model::ClassifierImpl& model, const data::Batches& batches, int64_t b,
                      int64_t num_classes, const BatchObserver& on_batch) {
  if (stop_flag().load(std::memory_order_relaxed) != 0) throw_if_stopped("evaluating");
  const auto [x, y] = batches.get(b);
  const at::Tensor logits = model.forward(x);
  if (on_batch) on_batch(x, y, logits);
  BatchResult r;
  r.loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
  r.cells = at::bincount(y * num_classes + logits.argmax(1), {}, num_classes * num_classes);
  return r;
}

/// Sums a split's batch results in batch order into an Evaluation (the model's evaluation
/// counters hold this split's usage).
Evaluation combine(model::ClassifierImpl& model, std::vector<BatchResult>& results,
                   int64_t num_samples, int64_t num_classes) {
  at::Tensor confusion;
  at::Tensor loss_sum;
  for (BatchResult& r : results) {
    for (const auto& entry : r.usage) entry.mixture->add_usage(/*training=*/false, entry.delta);
    confusion = confusion.defined() ? confusion + r.cells : r.cells;
    loss_sum = loss_sum.defined() ? loss_sum + r.loss : r.loss;
  }
  Evaluation out;
  out.usage = model.expert_usage(/*training=*/false);
  if (!confusion.defined()) {
    out.confusion.assign(static_cast<std::size_t>(num_classes * num_classes), 0);
    return out;
  }
  const at::Tensor cpu = confusion.to(at::kCPU).contiguous();
  out.confusion.assign(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
  int64_t correct = 0;
  for (int64_t c = 0; c < num_classes; ++c) correct += out.confusion[c * num_classes + c];
  const auto n = static_cast<double>(num_samples);
  out.acc = static_cast<double>(correct) / n;
  out.loss = loss_sum.item<double>() / n;
  return out;
}

bool on_cpu(const model::ClassifierImpl& model) {
  for (const at::Tensor& p : model.parameters()) return p.device().is_cpu();
  return true;
}

bool any_recording(const model::ClassifierImpl& model) {
  for (const auto& layer : model.moe_layers()) {
    if (layer.mixture->recording()) return true;
  }
  return false;
}

/// Restores the training mode on the way out, whatever happens.
class EvalMode {
 public:
  explicit EvalMode(model::ClassifierImpl& model) : model_(model), was_(model.is_training()) {
    model_.eval();
  }
  ~EvalMode() { model_.train(was_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  model::ClassifierImpl& model_;
  bool was_;
};

}  // namespace

bool evaluates_in_parallel(const model::ClassifierImpl& model) {
  return model.parallel_eval_safe() && at::get_num_threads() > 1 && !at::in_parallel_region() &&
         on_cpu(model) && !any_recording(model) && !model::cpu_autocast_enabled();
}

Evaluation evaluate(model::ClassifierImpl& model, const data::Batches& batches,
                    int64_t num_classes, const BatchObserver& on_batch) {
  if (!on_batch) return evaluate_splits(model, {&batches}, num_classes).front();
  const EvalMode mode(model);
  model.reset_expert_usage(/*training=*/false);
  // Inference mode: no autograd bookkeeping at all (cheaper than no_grad); nothing created
  // here is ever used in a training graph.
  const c10::InferenceMode inference;
  std::vector<BatchResult> results;
  for (int64_t b = 0; b < batches.num_batches(); ++b) {
    results.push_back(run_batch(model, batches, b, num_classes, on_batch));
  }
  return combine(model, results, batches.num_samples(), num_classes);
}

std::vector<Evaluation> evaluate_splits(model::ClassifierImpl& model,
                                        const std::vector<const data::Batches*>& splits,
                                        int64_t num_classes, bool share_batches) {
  const EvalMode mode(model);
  // Inference mode: no autograd bookkeeping at all (cheaper than no_grad); nothing created
  // here is ever used in a training graph.
  const c10::InferenceMode inference;
  std::vector<std::vector<BatchResult>> results(splits.size());
  // Every (split, batch) pair, split after split.
  std::vector<std::pair<std::size_t, int64_t>> tasks;
  for (std::size_t s = 0; s < splits.size(); ++s) {
    results[s].resize(static_cast<std::size_t>(splits[s]->num_batches()));
    for (int64_t b = 0; b < splits[s]->num_batches(); ++b) tasks.emplace_back(s, b);
  }
  const auto task_count = static_cast<int64_t>(tasks.size());
  std::vector<Evaluation> out;
  if (share_batches && task_count > 1 && evaluates_in_parallel(model)) {
    // Each thread takes the next batch when it has finished one and evaluates it on its own
    // (LibTorch's and OpenBLAS's parallel regions run serially inside this one); the
    // mixtures' counters are held back per batch and applied below, split by split in batch
    // order.
    const at::ThreadLocalState caller;  // inference mode and the rest of this thread's state
    model::parallel_pieces(task_count, 1, [&](int64_t begin, int64_t end) {
      const at::ThreadLocalStateGuard same_state(caller);
      for (int64_t t = begin; t < end; ++t) {
        const auto [s, b] = tasks[static_cast<std::size_t>(t)];
        model::moe::UsageCapture capture;
        BatchResult& r = results[s][static_cast<std::size_t>(b)];
        r = run_batch(model, *splits[s], b, num_classes, {});
        r.usage = capture.take();
      }
    });
    for (std::size_t s = 0; s < splits.size(); ++s) {
      model.reset_expert_usage(/*training=*/false);
      out.push_back(combine(model, results[s], splits[s]->num_samples(), num_classes));
    }
    return out;
  }
  for (std::size_t s = 0; s < splits.size(); ++s) {
    model.reset_expert_usage(/*training=*/false);
    for (int64_t b = 0; b < splits[s]->num_batches(); ++b) {
      results[s][static_cast<std::size_t>(b)] = run_batch(model, *splits[s], b, num_classes, {});
    }
    out.push_back(combine(model, results[s], splits[s]->num_samples(), num_classes));
  }
  return out;
}

}  // namespace moedil::train
