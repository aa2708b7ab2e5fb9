#include "moedil/train/strategies/registry.h"

#include "moedil/train/strategies/agem.h"
#include "moedil/train/strategies/der.h"
#include "moedil/train/strategies/ewc.h"
#include "moedil/train/strategies/joint.h"
#include "moedil/train/strategies/lwf.h"

namespace moedil::train {

const Registry<StrategyBuilder>& strategy_registry() {
  static const Registry<StrategyBuilder> registry = [] {
    Registry<StrategyBuilder> r("strategy");
    r.add("joint",
          "joint training, the upper bound: every epoch of domain d trains on the training data "
          "of domains 0..d together (the last domain: all domains at once); not combinable "
          "with the other strategies or replay",
          [](const StrategyContext& c) { return std::make_unique<JointPlugin>(c.config); });
    r.add("ewc",
          "online EWC (Schwarz et al. 2018): lambda/2 * sum F (theta - theta*)^2, running Fisher "
          "F := gamma F + F_domain (keys ewc.lambda, ewc.gamma)",
          [](const StrategyContext& c) { return std::make_unique<EwcPlugin>(c.config.strategy); });
    r.add("lwf",
          "LwF (Li & Hoiem 2016): alpha * KL to the previous domain's model at temperature T "
          "(keys lwf.alpha, lwf.temperature)",
          [](const StrategyContext& c) {
            return std::make_unique<LwfPlugin>(c.config.strategy, c.make_model);
          });
    r.add("der",
          "DER (Buzzega et al. 2020): alpha * MSE to the logits stored with memory samples "
          "(der.alpha; memory: replay.capacity, replay.policy, replay.ratio)",
          [](const StrategyContext& c) {
            return std::make_unique<DerPlugin>(c.config, c.num_classes, c.device, false);
          });
    r.add("derpp",
          "DER++ (Buzzega et al. 2020): DER plus beta * cross-entropy on a second memory batch "
          "(der.alpha, der.beta)",
          [](const StrategyContext& c) {
            return std::make_unique<DerPlugin>(c.config, c.num_classes, c.device, true);
          });
    r.add("agem",
          "A-GEM (Chaudhry et al. 2019): projects the gradient when it opposes the gradient on a "
          "memory batch of earlier domains (memory: replay.capacity, replay.policy, "
          "replay.ratio)",
          [](const StrategyContext& c) { return std::make_unique<AgemPlugin>(c.config); });
    return r;
  }();
  return registry;
}

}  // namespace moedil::train
