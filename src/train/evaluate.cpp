#include "moedil/train/evaluate.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "moedil/common/stop.h"

namespace moedil::train {

Evaluation evaluate(model::ClassifierImpl& model, const data::Batches& batches,
                    int64_t num_classes, const BatchObserver& on_batch) {
  const bool was_training = model.is_training();
  model.eval();
  model.reset_expert_usage(/*training=*/false);
  // Inference mode: no autograd bookkeeping at all (cheaper than no_grad); nothing created
  // here is ever used in a training graph.
  c10::InferenceMode inference;
  at::Tensor confusion;
  at::Tensor loss_sum;
  for (int64_t b = 0; b < batches.num_batches(); ++b) {
    if (stop_flag().load(std::memory_order_relaxed) != 0) throw_if_stopped("evaluating");
    const auto [x, y] = batches.get(b);
    const at::Tensor logits = model.forward(x);
    if (on_batch) on_batch(x, y, logits);
    const at::Tensor loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
    const at::Tensor cells = at::bincount(y * num_classes + logits.argmax(1), {},
                                          num_classes * num_classes);
    confusion = confusion.defined() ? confusion + cells : cells;
    loss_sum = loss_sum.defined() ? loss_sum + loss : loss;
  }
  Evaluation out;
  out.usage = model.expert_usage(/*training=*/false);
  if (was_training) model.train();
  if (!confusion.defined()) {
    out.confusion.assign(static_cast<std::size_t>(num_classes * num_classes), 0);
    return out;
  }
  const at::Tensor cpu = confusion.to(at::kCPU).contiguous();
  out.confusion.assign(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
  int64_t correct = 0;
  for (int64_t c = 0; c < num_classes; ++c) correct += out.confusion[c * num_classes + c];
  const auto n = static_cast<double>(batches.num_samples());
  out.acc = static_cast<double>(correct) / n;
  out.loss = loss_sum.item<double>() / n;
  return out;
}

}  // namespace moedil::train
