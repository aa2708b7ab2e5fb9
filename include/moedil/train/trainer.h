#pragma once
// The DIL training loop: optional class-balanced pretraining and per-domain baselines, then the
// domains in order, epochs_per_domain epochs each, with replay, LR schedule, router freezing and
// balance annealing, and an evaluation of every domain after every epoch. Results go into a
// RunRecord; observers see every step and epoch.
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <torch/optim/optimizer.h>

#include "moedil/config/run_config.h"
#include "moedil/data/augment.h"
#include "moedil/data/batching.h"
#include "moedil/io/run_record.h"
#include "moedil/model/classifier.h"
#include "moedil/partition/domain.h"
#include "moedil/train/loss.h"
#include "moedil/train/observer.h"
#include "moedil/train/replay.h"
#include "moedil/train/scheduler.h"

namespace moedil::train {

/// Set to a signal number (e.g. by a SIGINT/SIGTERM handler) to stop the run before its next
/// step with InterruptedError carrying that signal; 0 means keep going. The process-wide
/// flag of moedil/common/stop.h, which loading, partitioning and evaluation poll too.
std::atomic<int>& stop_requested();

/// Builds a freshly initialised model on the training device; every call gives the same
/// initial weights (it seeds from seeds.model).
using ModelFactory = std::function<model::Classifier()>;

class Trainer {
 public:
  /// `mean`/`stddev` are per channel on the [0, 1] scale; `record` is filled in.
  Trainer(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
          ModelFactory make_model, at::Device device, int64_t num_classes,
          const std::vector<double>& mean, const std::vector<double>& stddev,
          io::RunRecord& record);

  void add_observer(TrainerObserver* observer) { observers_.push_back(observer); }
  const model::Classifier& model() const { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }

  /// Accuracy on every domain before any training (record.init_acc).
  void evaluate_initial();
  /// Class-balanced pretraining on samples from every domain (when pretrain.enabled).
  void pretrain();
  /// For every domain, a model from the current (post-pretrain) weights trained on that domain
  /// alone for baseline.epochs at the base lr; its accuracy goes to record.baseline_acc.
  void run_baselines();
  /// After every epoch, write a checkpoint to `path` (before the observers see the epoch), so
  /// that resume() can continue after the last finished epoch.
  void enable_checkpoints(std::filesystem::path path) { checkpoint_path_ = std::move(path); }
  /// Restores a checkpoint written by this trainer's run(): model, optimizer, replay memory,
  /// the record so far (replacing `record`), and the position; run() then continues with the
  /// epoch after the last one saved. Throws DataError when the checkpoint does not fit.
  void resume(const std::filesystem::path& path);
  /// Trains every domain (after evaluate_initial() when it has not run); fills record.epochs,
  /// r_history, r_matrix and, at the end, metrics. Each epoch reseeds LibTorch's generator
  /// from seeds.training, the domain and the epoch, and every other draw is keyed the same way,
  /// so an epoch's outcome depends only on the state saved in the checkpoint before it.
  /// Throws TrainingError on a non-finite loss (naming where) and InterruptedError when
  /// stop_requested() is set.
  void run();

 private:
  /// Read from the device once, at the end of the epoch.
  struct EpochStats {
    double loss_sum = 0.0;  ///< task loss summed over samples
    double aux_sum = 0.0;   ///< weighted auxiliary loss summed over steps
    int64_t correct = 0;
    int64_t samples = 0;
    int64_t steps = 0;
  };
  using BatchFn = std::function<std::pair<at::Tensor, at::Tensor>(int64_t step)>;

  /// num_steps optimisation steps of `model` on batch_at(step); after_step(step, loss) runs
  /// after each step with the step's task loss still on the device. Nothing is read back to
  /// the host per step: sums, correct counts and the first non-finite step are kept on the
  /// device and read once at the end, when a non-finite loss throws TrainingError naming
  /// `where` and the step.
  EpochStats fit(model::ClassifierImpl& model, torch::optim::Optimizer& optimizer, Loss& loss,
                 int64_t num_steps, const BatchFn& batch_at, double balance_weight,
                 const std::string& where,
                 const std::function<void(int64_t, const at::Tensor&)>& after_step);
  /// Normalised, augmented (seeded by `seed`) images and labels of the given samples, grouped
  /// by domain.
  std::pair<at::Tensor, at::Tensor> gather(const std::vector<ReplaySample>& samples,
                                           uint64_t seed) const;
  /// Training batch `step` of `batches`, augmented with a seed drawn from `seed`.
  std::pair<at::Tensor, at::Tensor> training_batch(const data::Batches& batches, int64_t step,
                                                   uint64_t seed) const;
  std::vector<io::EvalRecord> evaluate_all(model::ClassifierImpl& model);
  double balance_weight(int64_t epoch) const;
  void set_routers_frozen(bool frozen);
  /// Expert merging at `step` (within the domain, from 1) of epoch `epoch` of `domain`: in
  /// every MoE layer the least selected expert := mean of the two most selected; its optimizer
  /// state is reset and the merge recorded in record.merges.
  void merge_experts(int64_t domain, int64_t epoch, int64_t step);
  /// Per MoE layer, the selection counts of the current domain (checkpoint state).
  nlohmann::json selection_state() const;
  void restore_selection_state(const nlohmann::json& state);

  const config::RunConfig& config_;
  const std::vector<partition::Domain>& domains_;
  ModelFactory make_model_;
  at::Device device_;
  int64_t num_classes_;
  io::RunRecord& record_;
  model::Classifier model_;
  std::vector<double> lr_multipliers_;  ///< per optimizer param group (filled with it)
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  LrSchedule schedule_;
  std::optional<ReplayMemory> replay_;
  data::Normalizer normalizer_;
  data::Augmenter augment_;
  std::vector<at::Tensor> images_;  ///< per domain, on the device
  std::vector<at::Tensor> labels_;  ///< per domain, on the device
  std::vector<std::vector<int64_t>> host_labels_;  ///< per domain, for the replay memory
  std::vector<data::Batches> train_batches_;
  std::vector<data::Batches> test_batches_;
  std::vector<TrainerObserver*> observers_;
  std::filesystem::path checkpoint_path_;  ///< empty: no checkpoints
  int64_t start_domain_ = 0;               ///< where run() starts (set by resume())
  int64_t start_epoch_ = 0;
};

/// Throws ConfigError unless every MoE layer of `model` has at least 3 experts of one
/// architecture (what expert_merging needs); also when the model has no MoE layer.
void check_mergeable(const model::ClassifierImpl& model, const std::string& model_name);

/// Layer name -> counts, from a model's usage list.
io::UsageByLayer usage_by_layer(const std::vector<model::ExpertUsage>& usage);

}  // namespace moedil::train
