#pragma once
// Everything a Trainer needs, built from a config patch over a tiny vit_moe setup on the
// generated synthetic dataset (3 domains of 80 images, 64 for training: 4 batches of 16).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "moedil/common/error.h"
#include "moedil/config/resolve.h"
#include "moedil/data/registry.h"
#include "moedil/model/registry.h"
#include "moedil/partition/registry.h"
#include "moedil/partition/run_domains.h"
#include "moedil/train/experiment.h"
#include "moedil/train/trainer.h"

namespace moedil::train {

struct Rig {
  explicit Rig(const std::string& patch = "{}") {
    nlohmann::json j = nlohmann::json::parse(R"({
      "dataset": "synthetic", "mini_dataset": 240, "num_partitions": 3,
      "partition": {"type": "domainIncremental"}, "batch_size": 16, "epochs_per_domain": 2,
      "num_threads": 1,
      "model": {"name": "vit_moe", "patch_size": 4, "embed_dim": 16, "depth": 2, "num_heads": 2,
                "moe_layer_indices": [1], "moe_num_unshared_experts": 3,
                "moe_routing_granularity": "sample", "moe_gate": "probability",
                "moe_balance_losses": {"switch": 1.0}},
      "router_balancing": true, "router_balance_strength": 0.01,
      "optimizer": {"name": "adam", "lr": 0.01}})");
    const nlohmann::json changes = nlohmann::json::parse(patch);
    if (changes.contains("model") && changes["model"].contains("name")) {
      // Another family: of the base's model keys, keep those it reads.
      j["model"]["name"] = changes["model"]["name"];
      j = config::without_unread_model_keys(j);
    }
    j.merge_patch(changes);
    config = config::resolve_run_config(j, name_catalog());
    dataset = data::make_dataset(config);
    partition::RunDomains run_domains = partition::make_run_domains(dataset, config);
    domains = std::move(run_domains.domains);
    pretraining = std::move(run_domains.pretraining);
    const config::RunConfig& c = config;
    const model::InputShape input{1, 8, 8, dataset.num_classes};
    factory = [&c, input] {
      torch::manual_seed(static_cast<uint64_t>(c.seeds.model));
      return model::make_model(c.model, input);
    };
  }
  std::unique_ptr<Trainer> trainer() {
    auto t = std::make_unique<Trainer>(config, domains, factory, at::kCPU, dataset.num_classes,
                                       dataset.mean, dataset.stddev, record);
    if (pretraining) t->set_pretraining_set(*pretraining);
    return t;
  }
  /// The ConfigError message building a Rig with `patch` gives ("" when it is valid).
  static std::string config_error(const std::string& patch) {
    try {
      Rig rig(patch);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
  config::RunConfig config;
  data::Dataset dataset;
  std::vector<partition::Domain> domains;
  std::optional<partition::Domain> pretraining;  ///< pretrain.draw "dataset"
  ModelFactory factory;
  io::RunRecord record;
};

}  // namespace moedil::train
