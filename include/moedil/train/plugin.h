#pragma once
// Trainer plugins: everything the training loop does besides "batch, forward, loss, backward,
// step, evaluate" hangs on these hooks (replay, expert merging, router freezing, balance
// annealing, the LR schedule, the continual-learning strategies, checkpoints, logging, progress,
// results). The loop (train/trainer.h) calls every plugin's hook in the order the plugins were
// added; a hook sees the whole training state.
//
// One domain of the run, as the hooks see it:
//
//   on_run_start                               once, before the first domain trained (also on
//                                              a resumed run, after the plugins' state is back)
//   on_domain_start                            before the domain's first epoch (also for the
//                                              domain a resumed run continues in)
//     epoch_batches                            a plugin may supply the epoch's batches
//     on_epoch_start                           epoch record open: set lr, flags, weights here
//       on_batch -> forward -> loss_term ->    per step: on_batch may append samples; each
//       backward -> before_step -> step ->     loss_term is added to the loss; before_step may
//       after_step                             change gradients
//     (evaluation; the epoch is recorded, with r_history, r_matrix and metrics)
//     on_domain_end                            after the domain's last epoch is recorded
//     on_epoch_end                             the epoch is complete (after on_domain_end when it
//                                              ended the domain): checkpoint, log, write results
//   on_run_end                                 after the last epoch's on_epoch_end
//
// A plugin that keeps state across epochs saves it in save_state and gets it back through
// load_state on --resume, so a resumed run continues bit for bit.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <torch/optim/optimizer.h>

#include "moedil/config/run_config.h"
#include "moedil/io/run_record.h"
#include "moedil/model/classifier.h"

namespace moedil::train {

class Loss;
class TrainingData;
class TrainerPlugin;

/// Builds a freshly initialised model on the training device; every call gives the same
/// initial weights (it seeds from seeds.model).
using ModelFactory = std::function<model::Classifier()>;

/// Where the loop is: domain and epoch (epoch within the domain) and step within the epoch,
/// all from 0.
struct Position {
  int64_t domain = 0;
  int64_t num_domains = 0;
  int64_t epoch = 0;
  int64_t num_epochs = 0;  ///< epochs per domain
  int64_t step = 0;
  int64_t num_steps = 0;   ///< steps of the current epoch
  double seconds = 0.0;    ///< since the epoch started (set before after_step)

  /// Steps finished in this domain after the current step (from 1).
  int64_t domain_step() const { return epoch * num_steps + step + 1; }
  bool last_epoch() const { return epoch == num_epochs - 1; }
  bool last_domain() const { return domain == num_domains - 1; }
};

/// One training step's batch. Rows [0, num_current) are the current domain's batch, in the
/// loader's order; plugins append further rows (replayed samples) in on_batch.
struct TrainBatch {
  at::Tensor images;  ///< normalised float [B, C, H, W] on the device
  at::Tensor labels;  ///< int64 [B]
  int64_t num_current = 0;
  /// Rows (into the current domain's images) of the first num_current samples, on the host;
  /// empty when a plugin supplied the epoch's batches (they may mix domains).
  std::vector<int64_t> current_rows;
};

/// The batches of one epoch: how many steps, and the batch of each step (called once per step,
/// in order).
struct EpochBatches {
  int64_t num_steps = 0;
  std::function<TrainBatch(int64_t step)> batch_at;
};

/// Tensors a plugin keeps in the checkpoint, by name (names: letters, digits and '_').
using PluginTensors = std::map<std::string, at::Tensor>;

/// What a hook sees and may change. The loop owns it; it lives for one run().
struct TrainingState {
  const config::RunConfig& config;
  model::ClassifierImpl& model;
  torch::optim::Optimizer& optimizer;
  io::RunRecord& record;
  const TrainingData& data;
  at::Device device;
  /// The plugins of the run, in order (the checkpointer saves all of their states).
  const std::vector<TrainerPlugin*>& plugins;
  Position pos;
  /// The epoch being trained, between on_epoch_start and its recording (null elsewhere).
  io::EpochRecord* epoch = nullptr;
  /// Weight of the model's auxiliary (balance) loss in this epoch; 0 leaves it out. Set at
  /// epoch start (the balance-annealing plugin).
  double balance_weight = 0.0;
  /// The run continues from a checkpoint: the position is the first epoch not trained yet.
  bool resumed = false;
  /// The run's training loss (config `loss`, weighted for the current domain); null: plain
  /// cross-entropy.
  Loss* loss = nullptr;
};

class TrainerPlugin {
 public:
  virtual ~TrainerPlugin() = default;
  /// Unique among a run's plugins; the key of this plugin's state in the checkpoint.
  virtual std::string name() const = 0;
  /// One line for the run log saying what this plugin does, with its settings ("online EWC:
  /// lambda 100 gamma 1"); empty: the plugin is not logged (bookkeeping plugins).
  virtual std::string describe() const { return {}; }

  virtual void on_run_start(TrainingState&) {}
  virtual void on_domain_start(TrainingState&) {}
  /// Before on_epoch_start: the epoch's batches, when this plugin supplies them instead of the
  /// current domain's shuffled training batches (joint training draws from several domains);
  /// std::nullopt leaves them. At most one plugin of a run supplies them.
  virtual std::optional<EpochBatches> epoch_batches(TrainingState&) { return std::nullopt; }
  virtual void on_epoch_start(TrainingState&) {}
  /// Before the forward pass; may append rows to the batch.
  virtual void on_batch(TrainingState&, TrainBatch&) {}
  /// After the forward pass (inside the autocast region): a scalar to add to the loss, or an
  /// undefined tensor for none. It is part of what is minimised, not of the reported task loss.
  virtual at::Tensor loss_term(TrainingState&, const TrainBatch&, const at::Tensor& /*logits*/) {
    return {};
  }
  /// After backward, before the optimizer step: may change the gradients.
  virtual void before_step(TrainingState&, const TrainBatch&) {}
  /// After the optimizer step; `loss` is the step's task loss, still on the device (reading
  /// it is a synchronisation on a GPU).
  virtual void after_step(TrainingState&, const TrainBatch&, const at::Tensor& /*loss*/) {}
  virtual void on_domain_end(TrainingState&) {}
  virtual void on_epoch_end(TrainingState&) {}
  virtual void on_run_end(TrainingState&) {}

  /// This plugin's state for the checkpoint: a JSON document and named tensors. Plugins without
  /// state across epochs keep the defaults (nothing saved).
  virtual nlohmann::json save_state(PluginTensors& /*tensors*/) const { return nullptr; }
  /// Restores what save_state saved (the tensors on the training device). Throws DataError
  /// when it does not fit this plugin's configuration.
  virtual void load_state(const nlohmann::json& /*state*/, const PluginTensors& /*tensors*/) {}
};

}  // namespace moedil::train
