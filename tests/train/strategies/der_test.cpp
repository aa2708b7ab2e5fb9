// DER / DER++: stored logits stay with their samples; the memory batch's terms; fifo refused.
#include "moedil/train/strategies/der.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "../rig.h"

namespace moedil::train {
namespace {

/// Added before DER: every step's logits of the batch's new samples, by (domain, row).
struct LogitsSeen : TrainerPlugin {
  std::string name() const override { return "logits_seen"; }
  at::Tensor loss_term(TrainingState& s, const TrainBatch& batch, const at::Tensor& logits) override {
    for (int64_t i = 0; i < batch.num_current; ++i) {
      seen[{s.pos.domain, batch.current_rows[static_cast<std::size_t>(i)]}].push_back(
          logits[i].detach().to(at::kFloat).clone());
    }
    return {};
  }
  std::map<std::pair<int64_t, int64_t>, std::vector<at::Tensor>> seen;
};

TEST(Der, EverySlotHoldsLogitsItsSampleGotWhenItWasSeen) {
  // DER added by hand after the recorder, so the recorder sees each step's logits first.
  LogitsSeen seen;
  Rig ordered(R"({"replay": {"capacity": 24, "ratio": 0.5}})");
  auto t = ordered.trainer();
  t->add_plugin(&seen);
  ordered.config.strategy.der_alpha = 0.5;
  auto plugin = std::make_unique<DerPlugin>(ordered.config, ordered.dataset.num_classes, at::kCPU,
                                            false);
  const DerPlugin& mine = *plugin;
  t->add_plugin(std::move(plugin));
  t->run();
  const auto& contents = mine.memory().contents();
  ASSERT_EQ(contents.size(), 24u);
  std::set<int64_t> domains;
  for (std::size_t k = 0; k < contents.size(); ++k) {
    domains.insert(contents[k].domain);
    const auto& candidates = seen.seen.at({contents[k].domain, contents[k].index});
    bool found = false;
    for (const auto& logits : candidates) found = found || logits.equal(mine.stored_logits()[k]);
    EXPECT_TRUE(found) << "slot " << k << " holds logits its sample never had";
  }
  EXPECT_GE(domains.size(), 2u);  // reservoir keeps earlier domains
}

TEST(Der, DerppDiffersFromDerOnlyByItsCrossEntropyTerm) {
  Rig der(R"({"strategy": "der"})");
  der.trainer()->run();
  Rig derpp0(R"({"strategy": "derpp", "der": {"beta": 0.0}})");
  derpp0.trainer()->run();
  Rig derpp(R"({"strategy": "derpp", "der": {"beta": 1.0}})");
  derpp.trainer()->run();
  Rig plain;
  plain.trainer()->run();
  ASSERT_EQ(der.record.epochs.size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    // beta 0: DER++ is DER, bit for bit.
    EXPECT_EQ(derpp0.record.epochs[k].train_loss, der.record.epochs[k].train_loss) << k;
  }
  // The memory terms change training (from the second step on), and beta changes it again.
  EXPECT_NE(der.record.epochs[0].train_loss, plain.record.epochs[0].train_loss);
  EXPECT_NE(derpp.record.epochs[0].train_loss, der.record.epochs[0].train_loss);
}

TEST(Der, FifoIsRefusedBecauseItsSlotsMove) {
  Rig rig(R"({"replay": {"policy": "fifo"}})");
  try {
    DerPlugin plugin(rig.config, 4, at::kCPU, true);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("derpp: replay.policy \"fifo\" moves samples"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace moedil::train
