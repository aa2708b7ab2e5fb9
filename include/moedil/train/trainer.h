#pragma once
// The DIL training loop: optional class-balanced pretraining and per-domain baselines, then the
// domains in order, epochs_per_domain epochs each, and an evaluation of every domain after every
// epoch. The loop itself only batches, steps and evaluates; everything else (LR schedule,
// balance annealing, router freezing, replay, expert merging, checkpoints, logging, results)
// is a plugin on its hooks (train/plugin.h). Results go into a RunRecord.
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <torch/optim/optimizer.h>

#include "moedil/config/run_config.h"
#include "moedil/io/run_record.h"
#include "moedil/model/classifier.h"
#include "moedil/partition/domain.h"
#include "moedil/train/loss.h"
#include "moedil/train/plugin.h"
#include "moedil/train/training_data.h"

namespace moedil::train {

/// Set to a signal number (e.g. by a SIGINT/SIGTERM handler) to stop the run before its next
/// step with InterruptedError carrying that signal; 0 means keep going. The process-wide
/// flag of moedil/common/stop.h, which loading, partitioning and evaluation poll too.
std::atomic<int>& stop_requested();

class Trainer {
 public:
  /// `mean`/`stddev` are per channel on the [0, 1] scale; `record` is filled in. Builds the
  /// model, optimizer, loss and the config's plugins (in this order: LR schedule, balance
  /// annealing, router freezing, replay, expert merging); their config errors throw here.
  Trainer(const config::RunConfig& config, const std::vector<partition::Domain>& domains,
          ModelFactory make_model, at::Device device, int64_t num_classes,
          const std::vector<double>& mean, const std::vector<double>& stddev,
          io::RunRecord& record);
  ~Trainer();

  /// Adds a plugin after the ones there; hooks run in the order plugins were added. The
  /// borrowed overload's plugin must outlive run().
  void add_plugin(std::unique_ptr<TrainerPlugin> plugin);
  void add_plugin(TrainerPlugin* plugin);
  const std::vector<TrainerPlugin*>& plugins() const { return plugins_; }
  const model::Classifier& model() const { return model_; }
  torch::optim::Optimizer& optimizer() { return *optimizer_; }
  const TrainingData& data() const { return data_; }

  /// Accuracy on every domain before any training (record.init_acc).
  void evaluate_initial();
  /// The samples of pretrain.draw "dataset" (partition::make_run_domains draws them); call
  /// before pretrain().
  void set_pretraining_set(partition::Domain set);
  /// Pretraining (when pretrain.enabled with samples to draw): on the set given to
  /// set_pretraining_set for pretrain.draw "dataset" (DataError when none was given), or on a
  /// class-balanced draw from every domain's training split for "class_balanced".
  void pretrain();
  /// For every domain, a model from the current (post-pretrain) weights trained on that domain
  /// alone for baseline.epochs, following the scheduler afresh over those epochs (as one domain
  /// of baseline.epochs epochs); its accuracy goes to record.baseline_acc.
  void run_baselines();
  /// Adds the checkpointer plugin: after every epoch a checkpoint at `path` (before the
  /// plugins added later see the epoch's end), so that resume() can continue after it.
  void enable_checkpoints(std::filesystem::path path);
  /// Restores a checkpoint written by this trainer's run(): model, optimizer, every plugin's
  /// state (call it after adding the plugins that keep state), the record so far (replacing
  /// `record`), and the position; run() then continues with the epoch after the last one
  /// saved. Throws DataError when the checkpoint does not fit.
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
  using BatchFn = std::function<TrainBatch(int64_t step)>;

  /// num_steps optimisation steps of `model` on batch_at(step), with the hooks of the plugins
  /// of `state` (none when null). Nothing is read back to the host per step: sums, correct
  /// counts and the first non-finite step are kept on the device and read once at the end,
  /// when a non-finite loss throws TrainingError naming `where` and the step.
  EpochStats fit(model::ClassifierImpl& model, torch::optim::Optimizer& optimizer, Loss& loss,
                 int64_t num_steps, const BatchFn& batch_at, double balance_weight,
                 const std::string& where, TrainingState* state);
  /// One epoch of the main run at state.pos: train, evaluate, record, end hooks.
  void train_epoch(TrainingState& state);
  std::vector<io::EvalRecord> evaluate_all(model::ClassifierImpl& model);
  /// Every domain's test batches, in domain order.
  std::vector<const data::Batches*> test_splits() const;

  const config::RunConfig& config_;
  ModelFactory make_model_;
  at::Device device_;
  int64_t num_classes_;
  io::RunRecord& record_;
  TrainingData data_;
  model::Classifier model_;
  std::vector<double> lr_multipliers_;  ///< per optimizer param group (filled with it)
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  std::vector<std::unique_ptr<TrainerPlugin>> owned_plugins_;
  std::vector<TrainerPlugin*> plugins_;
  int64_t start_domain_ = 0;  ///< where run() starts (set by resume())
  int64_t start_epoch_ = 0;
  bool resumed_ = false;
  std::vector<double> mean_;    ///< normalisation of the pretraining set
  std::vector<double> stddev_;
  std::vector<partition::Domain> pretraining_set_;  ///< pretrain.draw "dataset": one domain
  std::unique_ptr<TrainingData> pretraining_data_;
};

/// Layer name -> counts, from a model's usage list.
io::UsageByLayer usage_by_layer(const std::vector<model::ExpertUsage>& usage);

}  // namespace moedil::train
