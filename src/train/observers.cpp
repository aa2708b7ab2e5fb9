#include "moedil/train/observers.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <spdlog/logger.h>

#include "moedil/common/duration.h"
#include "moedil/io/logging.h"

namespace moedil::train {

void ResultsWriter::on_epoch_end(TrainingState& state) {
  store_.append_last_epoch(state.record);
  store_.write_summary(state.record);
}

io::Scalars epoch_scalars(const io::RunRecord& record) {
  io::Scalars out;
  if (record.epochs.empty()) return out;
  const io::EpochRecord& e = record.epochs.back();
  const auto add = [&out](std::string tag, double value) {
    out.emplace_back(std::move(tag), static_cast<float>(value));
  };
  add("train/loss", e.train_loss);
  add("train/aux_loss", e.aux_loss);
  add("train/acc", e.train_acc);
  add("train/lr", e.lr);
  add("train/samples_per_s", e.samples_per_s);
  add("train/seconds", e.seconds);
  double all = 0.0;
  double seen = 0.0;
  for (std::size_t d = 0; d < e.eval.size(); ++d) {
    all += e.eval[d].acc;
    if (static_cast<int64_t>(d) <= e.domain) seen += e.eval[d].acc;
  }
  if (!e.eval.empty()) {
    add("eval/mean_acc", all / static_cast<double>(e.eval.size()));
    add("eval/mean_acc_seen", seen / static_cast<double>(std::min<std::size_t>(
                                         e.eval.size(), static_cast<std::size_t>(e.domain) + 1)));
  }
  add("eval/seconds", e.eval_seconds);
  for (const io::EvalRecord& v : e.eval) {
    add("eval/acc/" + v.domain, v.acc);
    add("eval/loss/" + v.domain, v.loss);
  }
  for (const auto& [layer, value] : e.routing_entropy) {
    add("moe/" + layer + "/routing_entropy", value);
  }
  for (const auto& [layer, value] : e.dropped_fraction) {
    add("moe/" + layer + "/dropped_fraction", value);
  }
  for (const auto& [layer, value] : e.dead_experts) {
    add("moe/" + layer + "/dead_experts", static_cast<double>(value));
  }
  return out;
}

void TensorBoardLogger::on_epoch_end(TrainingState& state) {
  writer_.add_scalars(static_cast<int64_t>(state.record.epochs.size()),
                      epoch_scalars(state.record));
}

void EpochLogger::on_epoch_end(TrainingState& state) {
  const io::RunRecord& record = state.record;
  const io::EpochRecord& e = record.epochs.back();
  double mean_eval = 0.0;
  for (const auto& v : e.eval) mean_eval += v.acc;
  if (!e.eval.empty()) mean_eval /= static_cast<double>(e.eval.size());
  const auto num_epochs = record.r_history.size();
  io::logger()->info(
      "[train] domain {}/{} ({}) epoch {}/{}: loss {:.4f} aux {:.4f} train_acc {:.4f} "
      "eval_acc {:.4f} (this domain {:.4f}) {:.1f}s {:.0f} samples/s eval {:.1f}s ({:.0f}% of "
      "the epoch)",
      e.domain + 1, record.domains.size(), record.domains[e.domain], e.epoch + 1, num_epochs,
      e.train_loss, e.aux_loss, e.train_acc, mean_eval, e.eval[e.domain].acc, e.seconds,
      e.samples_per_s, e.eval_seconds,
      100.0 * e.eval_seconds / std::max(e.seconds + e.eval_seconds, 1e-9));
}

ProgressLine::ProgressLine() : enabled_(isatty(STDERR_FILENO) == 1) {}

void ProgressLine::after_step(TrainingState& state, const TrainBatch&, const at::Tensor& loss) {
  if (!enabled_) return;
  const Position& info = state.pos;
  const bool last = info.step + 1 == info.num_steps;
  if (!last && info.seconds - last_print_ < 0.2) return;
  last_print_ = info.seconds;
  const double fraction = static_cast<double>(info.step + 1) / static_cast<double>(info.num_steps);
  const double eta = fraction > 0 ? info.seconds * (1.0 - fraction) / fraction : 0.0;
  // The whole run: this epoch's rest, then the epochs after it at the mean time of those done
  // (training and evaluation), or at this epoch's projected time before any is done.
  const auto& done = state.record.epochs;
  double per_epoch = fraction > 0 ? info.seconds / fraction : 0.0;
  if (!done.empty()) {
    double total = 0.0;
    for (const auto& e : done) total += e.seconds + e.eval_seconds;
    per_epoch = total / static_cast<double>(done.size());
  }
  const int64_t after = (info.num_domains - info.domain) * info.num_epochs - info.epoch - 1;
  const double run_eta = eta + per_epoch * static_cast<double>(std::max<int64_t>(after, 0));
  std::fprintf(stderr,
               "\r  domain %lld/%lld epoch %lld/%lld step %lld/%lld loss %.4f %.0fs eta %.0fs "
               "(run %s)\033[K",
               static_cast<long long>(info.domain + 1), static_cast<long long>(info.num_domains),
               static_cast<long long>(info.epoch + 1), static_cast<long long>(info.num_epochs),
               static_cast<long long>(info.step + 1), static_cast<long long>(info.num_steps),
               loss.item<double>(), info.seconds, eta, format_duration(run_eta).c_str());
  std::fflush(stderr);
}

void ProgressLine::on_epoch_end(TrainingState&) {
  if (!enabled_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  last_print_ = -1.0;
}

}  // namespace moedil::train
