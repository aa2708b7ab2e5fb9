#include "moedil/train/training_data.h"

#include <map>

#include "moedil/common/random.h"
#include "moedil/data/dataset.h"

namespace moedil::train {
std::vector<int64_t> host_vector(const at::Tensor& t) {
  const at::Tensor cpu = t.to(at::kCPU).to(at::kLong).contiguous();
  return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
}

TrainingData::TrainingData(const config::RunConfig& config,
                           const std::vector<partition::Domain>& domains, at::Device device,
                           const std::vector<double>& mean, const std::vector<double>& stddev)
    : domains_(domains),
      device_(device),
      normalizer_(mean, stddev, device),
      augment_(config.augmentation) {
  for (const auto& d : domains_) {
    // Each domain's images go to the device once; batches are cut there.
    images_.push_back(d.images.to(device));
    labels_.push_back(d.labels.to(device));
    host_labels_.push_back(host_vector(d.labels));
    train_batches_.emplace_back(images_.back(), labels_.back(), d.train_idx, config.batch_size,
                                normalizer_);
    test_batches_.emplace_back(images_.back(), labels_.back(), d.test_idx,
                               config.eval_batch_size, normalizer_);
  }
}

at::Tensor TrainingData::train_labels(int64_t d) const {
  const partition::Domain& domain = domains_.at(d);
  return domain.labels.index_select(0, domain.train_idx);
}

std::pair<at::Tensor, at::Tensor> TrainingData::training_batch(const data::Batches& batches,
                                                               int64_t step,
                                                               uint64_t seed) const {
  if (!augment_.enabled()) return batches.get(step);
  return batches.get(step, [&](const at::Tensor& u8) {
    return augment_(u8, mix_seed(seed, {static_cast<uint64_t>(step)}));
  });
}

std::pair<at::Tensor, at::Tensor> TrainingData::gather(const std::vector<ReplaySample>& samples,
                                                       uint64_t seed) const {
  std::map<int64_t, std::vector<int64_t>> rows_by_domain;
  for (const auto& s : samples) rows_by_domain[s.domain].push_back(s.index);
  std::vector<at::Tensor> xs;
  std::vector<at::Tensor> ys;
  for (const auto& [domain, rows] : rows_by_domain) {
    const at::Tensor index = data::index_tensor(rows).to(device_);
    xs.push_back(images_[domain].index_select(0, index));
    ys.push_back(labels_[domain].index_select(0, index));
  }
  return {normalizer_(augment_(at::cat(xs, 0), seed)), at::cat(ys, 0)};
}

}  // namespace moedil::train
