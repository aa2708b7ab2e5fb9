#pragma once
// Joint training, strategy "joint": the usual upper bound of continual learning. Every epoch of
// domain d trains on the training splits of domains 0..d together, shuffled into one order
// (seeds.loader; `shuffle: false` keeps domain order), in batches of batch_size:
// ceil((N_0 + ... + N_d) / batch_size) steps. At the last domain this is all domains' training
// data at once. Evaluation, the R-matrix (row d: the model trained jointly on domains 0..d) and
// the metrics are those of every run, so `moedil report` puts joint beside the other strategies.
// It keeps no state (its order is a function of the seeds, domain and epoch), so a resumed run
// continues bit for bit.
#include <cstdint>
#include <optional>
#include <vector>

#include "moedil/train/plugin.h"
#include "moedil/train/replay.h"

namespace moedil::train {

class JointPlugin : public TrainerPlugin {
 public:
  /// Shuffles with seeds.loader; batches of batch_size.
  explicit JointPlugin(const config::RunConfig& config);
  std::string name() const override { return "joint"; }
  std::string describe() const override;
  void on_domain_start(TrainingState& state) override;
  std::optional<EpochBatches> epoch_batches(TrainingState& state) override;

  /// The training samples of domains 0..d of the current domain d (each domain's in its
  /// split's order), as the batches draw them.
  const std::vector<ReplaySample>& pool() const { return pool_; }

 private:
  int64_t batch_size_;
  bool shuffle_;                   ///< config.shuffle: false keeps the pool's order
  uint64_t seed_;                  ///< seeds.loader
  std::vector<ReplaySample> pool_;  ///< domains 0..d
  int64_t pool_domains_ = 0;        ///< domains in pool_
};

}  // namespace moedil::train
