#pragma once
// What each model family (`model.name`) reads of the `model` keys, and its checks among them.
// Torch-free, so config validation owns the rules: a key a family does not read is an error
// when a config sets it, and a family's rules are checked here and nowhere else. The model
// registry (model/registry.cpp) maps the same keys to each family's options and only adds the
// checks that need the dataset's image shape; a test keeps the two lists of names equal.
#include <functional>
#include <string>
#include <vector>

#include "moedil/config/run_config.h"

namespace moedil::config {

/// A problem with one model key: its name below `model.` and what is wrong.
struct ModelKeyProblem {
  std::string key;
  std::string message;
};

/// One model family: the `model` keys it reads and the checks that involve several of them.
struct ModelFamily {
  std::string name;
  /// The `model` keys it reads besides `name`, in the order of configs/example.jsonc.
  std::vector<std::string> keys;
  /// Problems among its keys (each key's own range is checked when it is read); may be empty.
  std::function<std::vector<ModelKeyProblem>(const ModelConfig&)> check;

  /// Whether `key` is one of keys.
  bool reads(const std::string& key) const;
};

/// Every model family, in the order of `moedil list`.
const std::vector<ModelFamily>& model_families();

/// The family named `name`, or nullptr.
const ModelFamily* find_model_family(const std::string& name);

/// The message for a key that `family` does not read:
/// "not read by model 'vit' (it reads: patch_size, embed_dim, ...)".
std::string not_read_message(const ModelFamily& family);

}  // namespace moedil::config
