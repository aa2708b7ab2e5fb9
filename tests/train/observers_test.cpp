#include "moedil/train/observers.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace moedil::train {
namespace {

TEST(EpochScalars, TheLastEpochByHand) {
  io::RunRecord record;
  record.domains = {"a", "b", "c"};
  io::EpochRecord first;
  first.train_loss = 9.0;
  record.epochs.push_back(first);
  io::EpochRecord e;
  e.domain = 1;  // the second domain: "seen" = a and b
  e.train_loss = 1.5;
  e.aux_loss = 0.25;
  e.train_acc = 0.75;
  e.lr = 0.001;
  e.samples_per_s = 100.0;
  e.seconds = 2.0;
  e.eval_seconds = 0.5;
  const std::map<std::string, double> accs{{"a", 0.2}, {"b", 0.4}, {"c", 0.9}};
  for (const auto& [name, acc] : accs) {
    io::EvalRecord v;
    v.domain = name;
    v.acc = acc;
    v.loss = 10 * acc;
    e.eval.push_back(v);
  }
  e.routing_entropy["block1"] = 1.25;
  e.dead_experts["block1"] = 2;
  record.epochs.push_back(e);

  std::map<std::string, float> got;
  for (const auto& [tag, value] : epoch_scalars(record)) {
    EXPECT_EQ(got.count(tag), 0u) << tag << " twice";
    got[tag] = value;
  }
  const std::map<std::string, float> want{
      {"train/loss", 1.5f},           {"train/aux_loss", 0.25f},
      {"train/acc", 0.75f},           {"train/lr", 0.001f},
      {"train/samples_per_s", 100.0f}, {"train/seconds", 2.0f},
      {"eval/mean_acc", float((0.2 + 0.4 + 0.9) / 3)},
      {"eval/mean_acc_seen", float((0.2 + 0.4) / 2)},
      {"eval/seconds", 0.5f},         {"eval/acc/a", 0.2f},
      {"eval/acc/b", 0.4f},           {"eval/acc/c", 0.9f},
      {"eval/loss/a", 2.0f},          {"eval/loss/b", 4.0f},
      {"eval/loss/c", 9.0f},          {"moe/block1/routing_entropy", 1.25f},
      {"moe/block1/dead_experts", 2.0f}};
  EXPECT_EQ(got, want);
  EXPECT_TRUE(epoch_scalars(io::RunRecord{}).empty());
}

}  // namespace
}  // namespace moedil::train
