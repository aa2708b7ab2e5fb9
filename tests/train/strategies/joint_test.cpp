// Joint training: every epoch of domain d trains on every training sample of domains 0..d
// exactly once; the run keeps the R-matrix form; joint is refused beside other strategies.
#include "moedil/train/strategies/joint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/train/training_data.h"
#include "../rig.h"

namespace moedil::train {
namespace {

/// (label, sum, sum of squares) of every row: what identifies an image here.
using Fingerprint = std::tuple<int64_t, double, double>;

std::vector<Fingerprint> fingerprints(const at::Tensor& images, const at::Tensor& labels) {
  const at::Tensor flat = images.reshape({images.size(0), -1}).to(at::kDouble);
  const at::Tensor sums = flat.sum(1);
  const at::Tensor squares = flat.pow(2).sum(1);
  std::vector<Fingerprint> out;
  for (int64_t r = 0; r < images.size(0); ++r) {
    out.emplace_back(labels[r].item<int64_t>(), sums[r].item<double>(), squares[r].item<double>());
  }
  return out;
}

/// Per epoch: the fingerprints of every row trained on and the number of steps.
struct Watch : TrainerPlugin {
  std::string name() const override { return "watch"; }
  void on_epoch_start(TrainingState& s) override {
    rows.emplace_back();
    steps.push_back(s.pos.num_steps);
  }
  void on_batch(TrainingState&, TrainBatch& b) override {
    EXPECT_EQ(b.num_current, b.labels.size(0));
    EXPECT_TRUE(b.current_rows.empty());  // rows of several domains: no single-domain rows
    const auto f = fingerprints(b.images, b.labels);
    rows.back().insert(rows.back().end(), f.begin(), f.end());
  }
  std::vector<std::vector<Fingerprint>> rows;
  std::vector<int64_t> steps;
};

TEST(Joint, EveryEpochTrainsOnEachSampleOfTheDomainsSoFarOnce) {
  Rig rig(R"({"strategy": "joint"})");  // 3 domains of 64 training images, batches of 16
  auto trainer = rig.trainer();
  const TrainingData data(rig.config, rig.domains, at::kCPU, rig.dataset.mean,
                          rig.dataset.stddev);
  std::vector<std::vector<Fingerprint>> expected;  // domains 0..d, sorted
  std::vector<Fingerprint> so_far;
  for (int64_t d = 0; d < 3; ++d) {
    std::vector<ReplaySample> samples;
    for (const int64_t row : host_vector(rig.domains[d].train_idx)) {
      samples.push_back({d, row, data.label(d, row)});
    }
    const auto [x, y] = data.gather(samples, 0);
    const auto f = fingerprints(x, y);
    so_far.insert(so_far.end(), f.begin(), f.end());
    expected.push_back(so_far);
    std::sort(expected.back().begin(), expected.back().end());
  }
  ASSERT_EQ(expected[2].size(), 192u);
  Watch watch;
  trainer->add_plugin(&watch);
  trainer->run();
  ASSERT_EQ(watch.rows.size(), 6u);  // 3 domains x 2 epochs
  for (std::size_t k = 0; k < watch.rows.size(); ++k) {
    SCOPED_TRACE(k);
    const std::size_t d = k / 2;
    EXPECT_EQ(watch.steps[k], static_cast<int64_t>(4 * (d + 1)));  // ceil(64 (d+1) / 16)
    std::vector<Fingerprint> got = watch.rows[k];
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected[d]);
  }
  // The two epochs of a domain see the samples in different orders.
  EXPECT_NE(watch.rows[4], watch.rows[5]);
  // The R-matrix form of every run: a row per domain, and the metrics.
  ASSERT_EQ(rig.record.r_matrix.size(), 3u);
  for (const auto& row : rig.record.r_matrix) EXPECT_EQ(row.size(), 3u);
  ASSERT_TRUE(rig.record.metrics.has_value());
}

TEST(Joint, WithoutShuffleTheDomainsComeInOrder) {
  Rig rig(R"({"strategy": "joint", "shuffle": false})");
  auto trainer = rig.trainer();
  Watch watch;
  trainer->add_plugin(&watch);
  trainer->run();
  // Domain 1's epochs: domain 0's 64 samples, then domain 1's, the same both epochs.
  EXPECT_EQ(watch.rows[2], watch.rows[3]);
  const TrainingData data(rig.config, rig.domains, at::kCPU, rig.dataset.mean,
                          rig.dataset.stddev);
  std::vector<ReplaySample> first;
  for (const int64_t row : host_vector(rig.domains[0].train_idx)) {
    first.push_back({0, row, data.label(0, row)});
  }
  const auto [x, y] = data.gather(first, 0);
  const std::vector<Fingerprint> head(watch.rows[2].begin(), watch.rows[2].begin() + 64);
  EXPECT_EQ(head, fingerprints(x, y));
}

TEST(Joint, RunsAloneWithoutReplayOrAnotherStrategy) {
  EXPECT_NE(
      Rig::config_error(R"({"strategy": ["joint", "ewc"]})").find("lists joint with ewc"),
      std::string::npos);
  EXPECT_NE(Rig::config_error(R"({"strategy": "joint", "replay": {"enabled": true}})")
                .find("disable replay for joint"),
            std::string::npos);
  EXPECT_EQ(
      Rig::config_error(R"({"strategy": "joint", "expert_merging": {"enabled": false}})"), "");
}

TEST(Joint, DescribesItselfForTheRunLog) {
  Rig rig(R"({"strategy": "joint"})");
  auto trainer = rig.trainer();
  const TrainerPlugin* joint = trainer->plugins().back();
  EXPECT_EQ(joint->name(), "joint");
  EXPECT_NE(joint->describe().find("domains 0..d together"), std::string::npos);
  EXPECT_NE(joint->describe().find("batches of 16"), std::string::npos);
}

}  // namespace
}  // namespace moedil::train
