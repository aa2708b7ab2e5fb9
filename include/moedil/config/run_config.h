#pragma once
// The typed configuration of one run. Torch-free so it compiles fast and can be used by every
// area. Every field has a default; configs/example.jsonc documents every key. The JSON keys are
// the field names (they follow the Python predecessor so its configs port with few edits).
#include <cstdint>
#include <string>
#include <vector>

namespace moedil::config {

/// How the dataset is split into domains (`partition`).
struct PartitionConfig {
  /// "rotate": one domain per angle, each the same base images rotated;
  /// "domainIncremental": whole domains from the dataset's domain ids.
  std::string type = "rotate";
  /// Rotation angles in degrees, one domain each (rotate only).
  std::vector<double> angles{0.0, 30.0, 60.0, 90.0, 120.0};
};

/// Model family and its options (`model`). Options a family does not use are ignored by it.
struct ModelConfig {
  std::string name = "vit_moe";
  // ViT options shared by the ViT families.
  int64_t patch_size = 7;
  int64_t embed_dim = 64;
  int64_t depth = 4;
  int64_t num_heads = 4;
  double mlp_ratio = 2.0;
  double dropout = 0.0;
  // MoE options (vit_moe).
  /// Which blocks get an MoE MLP: explicit list of block indices. In JSON either a list,
  /// "every_other" (1, 3, 5, ...) or "all"; resolved to the list here.
  std::vector<int64_t> moe_layer_indices{1, 3};
  int64_t moe_num_unshared_experts = 4;
  int64_t moe_num_shared_experts = 0;
  int64_t moe_top_k = 1;
  /// "sample": one routing decision per image and layer; "token": each token on its own.
  std::string moe_routing_granularity = "sample";
  /// Sample routing only: route on the CLS token (true) or on the mean of the tokens (false).
  bool moe_route_with_cls_token = true;
};

/// Optimizer (`optimizer`): sgd, adam or adamw.
struct OptimizerConfig {
  std::string name = "adam";
  double lr = 1e-3;
  double weight_decay = 0.0;
  double momentum = 0.9;  ///< sgd only
};

/// Every random source takes its seed from here. A seed left out of the config takes `global`.
struct SeedsConfig {
  int64_t global = 0;
  int64_t dataset = 0;    ///< mini_dataset subsampling
  int64_t partition = 0;  ///< train/test split within domains
  int64_t loader = 0;     ///< batch shuffling
  int64_t model = 0;      ///< weight initialisation
  int64_t training = 0;   ///< dropout, router noise
};

/// One run, resolved: every default filled in, every value validated.
struct RunConfig {
  std::string dataset = "fashion_mnist";
  /// Folder holding the dataset files; empty = the dataset's default location.
  std::string dataset_root;
  /// Keep this many images of the dataset (train and test pooled) before partitioning; 0 = all.
  int64_t mini_dataset = 0;
  int64_t num_partitions = 5;
  PartitionConfig partition;
  /// Fraction of each domain used for training; the rest is its test split.
  double train_frac = 0.8;
  int64_t batch_size = 64;
  bool shuffle = true;
  ModelConfig model;
  OptimizerConfig optimizer;
  int64_t epochs_per_domain = 1;
  /// Add the switch-style balance loss of every MoE layer, weighted by router_balance_strength.
  bool router_balancing = true;
  double router_balance_strength = 0.01;
  SeedsConfig seeds;
  /// "auto" (cuda:0 when available, else cpu), "cpu", "cuda", "cuda:N".
  std::string device = "auto";
  /// Intra-op threads; 0 = all cores.
  int64_t num_threads = 0;
  std::string results_dir = "results";
  std::string log_dir = "logs";
  /// Name of the config (file stem); results go to results_dir/<config_name>/<run id>/.
  /// Not a JSON key: set by the loader.
  std::string config_name = "config";
};

}  // namespace moedil::config
