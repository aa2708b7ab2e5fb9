#pragma once
// The continual-learning strategies a config can name in `strategy` (a name or a list), each a
// trainer plugin: joint, ewc, lwf, der, derpp, agem. `moedil list` prints them; validation takes the
// valid names from here.
#include <functional>
#include <memory>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"
#include "moedil/train/plugin.h"

namespace moedil::train {

/// What a strategy is built from.
struct StrategyContext {
  const config::RunConfig& config;
  ModelFactory make_model;  ///< LwF's copy of the previous domain's model
  at::Device device;
  int64_t num_classes;
};

using StrategyBuilder = std::function<std::unique_ptr<TrainerPlugin>(const StrategyContext&)>;

const Registry<StrategyBuilder>& strategy_registry();

}  // namespace moedil::train
