#pragma once
// What to tell a user whose run failed on a non-finite loss, from the config alone.
#include <string>
#include <vector>

#include "moedil/config/run_config.h"

namespace moedil::config {

/// One config value that can make a loss non-finite.
struct NonfiniteSuspect {
  std::string key;     ///< dotted JSON path, e.g. "model.temperature_end"
  std::string value;   ///< as JSON, e.g. "1e-05"
  std::string reason;  ///< why it can, e.g. "divides the routing similarities"
};

/// The values of c, among those the run uses, that can overflow the loss or its gradients:
/// routing temperatures below 0.01 (vit_moe_centroid), a class-weight cap below 0.01
/// (weighted_cross_entropy), loss weights above 100 (balance and auxiliary losses while
/// router_balancing is on), lr multipliers above 100, router noise above 100, and an
/// optimizer.lr above 0.1 (adam, adamw) or 1 (sgd). In config order.
std::vector<NonfiniteSuspect> nonfinite_suspects(const RunConfig& c);

/// The hint of a non-finite loss error: "config values that can cause it: <key> = <value>
/// (<reason>), ...; otherwise try a lower optimizer.lr (now <lr>)", or just "try a lower
/// optimizer.lr (now <lr>)" when nothing else is suspect.
std::string nonfinite_loss_hint(const RunConfig& c);

}  // namespace moedil::config
