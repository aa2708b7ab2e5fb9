#pragma once
// Names of the selectable balance losses (model.moe_balance_losses), without tensor headers so
// the config reader can list them.
#include <string>
#include <vector>

namespace moedil::model::moe {

inline const std::vector<std::string>& balance_loss_names() {
  static const std::vector<std::string> names{"switch",         "importance_load", "entropy",
                                              "column_entropy", "output_variance", "z_loss"};
  return names;
}

}  // namespace moedil::model::moe
