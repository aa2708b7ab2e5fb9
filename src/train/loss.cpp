#include "moedil/train/loss.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "moedil/common/error.h"

namespace moedil::train {
namespace {

/// Counts of each class in [0, num_classes) among `labels` (int64 [N]).
std::vector<int64_t> count_labels(const at::Tensor& labels, int64_t num_classes) {
  std::vector<int64_t> counts(static_cast<std::size_t>(num_classes), 0);
  if (labels.numel() == 0) return counts;
  const at::Tensor flat = labels.reshape({-1}).to(at::kCPU, at::kLong);
  const int64_t lo = flat.min().item<int64_t>();
  const int64_t hi = flat.max().item<int64_t>();
  if (lo < 0 || hi >= num_classes) {
    throw DataError("loss: training labels must lie in [0, " + std::to_string(num_classes) +
                    "), got labels in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  const at::Tensor bins = at::bincount(flat, {}, num_classes).contiguous();
  const int64_t* data = bins.data_ptr<int64_t>();
  std::copy(data, data + num_classes, counts.begin());
  return counts;
}

/// Per-class weights kept on the CPU in double, with a copy in the dtype and on the device of
/// the logits last seen (made on first use, remade when they change or the weights change).
class ClassWeights {
 public:
  void set(std::vector<double> values) {
    values_ = std::move(values);
    cached_ = at::Tensor();
  }
  const std::vector<double>& values() const { return values_; }
  bool empty() const { return values_.empty(); }

  const at::Tensor& like(const at::Tensor& logits) {
    if (!cached_.defined() || cached_.device() != logits.device() ||
        cached_.scalar_type() != logits.scalar_type()) {
      cached_ = at::tensor(at::ArrayRef<double>(values_), at::kDouble)
                    .to(logits.device(), logits.scalar_type());
    }
    return cached_;
  }

 private:
  std::vector<double> values_;
  at::Tensor cached_;
};

void check_batch(const at::Tensor& logits, const at::Tensor& targets, int64_t num_classes,
                 const char* loss) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(1) == num_classes, loss, ": logits must be [B, ",
              num_classes, "], got ", logits.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == logits.size(0), loss, ": targets must be [",
              logits.size(0), "], got ", targets.sizes());
}

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(double label_smoothing) : label_smoothing_(label_smoothing) {}

  at::Tensor operator()(const at::Tensor& logits, const at::Tensor& targets) override {
    return at::cross_entropy_loss(logits, targets, {}, at::Reduction::Mean, -100, label_smoothing_);
  }

 private:
  double label_smoothing_;
};

class FocalLoss : public Loss {
 public:
  enum class Alpha { kNone, kAuto, kList };

  FocalLoss(double gamma, Alpha alpha, std::vector<double> alpha_values, int64_t num_classes,
            bool averaged)
      : gamma_(gamma),
        alpha_(alpha),
        num_classes_(num_classes),
        averaged_(averaged),
        previous_(static_cast<std::size_t>(num_classes), 1.0) {
    if (alpha_ == Alpha::kList) weights_.set(std::move(alpha_values));
    if (alpha_ == Alpha::kAuto) {
      weights_.set(std::vector<double>(static_cast<std::size_t>(num_classes), 1.0));
    }
  }

  void on_domain_start(const at::Tensor& train_labels) override {
    if (alpha_ != Alpha::kAuto) return;
    const std::vector<int64_t> counts = count_labels(train_labels, num_classes_);
    // Inverse frequency of the present classes, scaled to mean 1 over them.
    std::vector<double> w(counts.size(), 0.0);
    double sum = 0.0;
    int64_t present = 0;
    for (std::size_t c = 0; c < counts.size(); ++c) {
      if (counts[c] == 0) continue;
      w[c] = 1.0 / static_cast<double>(counts[c]);
      sum += w[c];
      ++present;
    }
    if (present == 0) {
      std::vector<double> ones(counts.size(), 1.0);
      average(ones);
      weights_.set(std::move(ones));
      return;
    }
    double largest = 0.0;
    for (std::size_t c = 0; c < counts.size(); ++c) {
      if (counts[c] == 0) continue;
      w[c] *= static_cast<double>(present) / sum;
      largest = std::max(largest, w[c]);
    }
    for (std::size_t c = 0; c < counts.size(); ++c) {
      if (counts[c] == 0) w[c] = largest;
    }
    average(w);
    weights_.set(std::move(w));
  }

  at::Tensor operator()(const at::Tensor& logits, const at::Tensor& targets) override {
    check_batch(logits, targets, num_classes_, "focal loss");
    const at::Tensor log_p = at::log_softmax(logits, 1).gather(1, targets.unsqueeze(1)).squeeze(1);
    at::Tensor loss = -log_p;
    if (gamma_ != 0.0) {
      // The floor keeps the gradient finite for gamma < 1 when p rounds to exactly 1
      // (0^(gamma - 1) = inf times a zero log p would give NaN); its effect on values is nil.
      const at::Tensor one_minus_p =
          (1.0 - log_p.exp()).clamp_min(std::numeric_limits<float>::min());
      loss = loss * at::pow(one_minus_p, gamma_);
    }
    if (!weights_.empty()) loss = loss * weights_.like(logits).index_select(0, targets);
    return loss.mean();
  }

  std::vector<double> class_weights() const override { return weights_.values(); }

 private:
  /// weight_cumulative (the predecessor's, on its auto alpha too): w := (w_previous + w) / 2.
  void average(std::vector<double>& w) {
    if (!averaged_) return;
    for (std::size_t c = 0; c < w.size(); ++c) w[c] = 0.5 * (previous_[c] + w[c]);
    previous_ = w;
  }

  double gamma_;
  Alpha alpha_;
  int64_t num_classes_;
  bool averaged_;                 ///< weight_cumulative (alpha "auto" only)
  std::vector<double> previous_;  ///< the weights before this domain's
  ClassWeights weights_;
};

class WeightedCrossEntropyLoss : public Loss {
 public:
  WeightedCrossEntropyLoss(double upper_limit, bool all_domains, bool averaged,
                           int64_t num_classes)
      : upper_limit_(upper_limit),
        all_domains_(all_domains),
        averaged_(averaged),
        counts_(static_cast<std::size_t>(num_classes), 0),
        previous_(static_cast<std::size_t>(num_classes), 1.0) {
    weights_.set(std::vector<double>(counts_.size(), 1.0));
  }

  void on_domain_start(const at::Tensor& train_labels) override {
    const std::vector<int64_t> counts =
        count_labels(train_labels, static_cast<int64_t>(counts_.size()));
    for (std::size_t c = 0; c < counts_.size(); ++c) {
      counts_[c] = all_domains_ ? counts_[c] + counts[c] : counts[c];
    }
    int64_t total = 0;
    int64_t present = 0;
    for (const int64_t n : counts_) {
      total += n;
      present += n > 0 ? 1 : 0;
    }
    std::vector<double> w(counts_.size(), 1.0);
    if (total > 0) {
      for (std::size_t c = 0; c < counts_.size(); ++c) {
        if (counts_[c] == 0) {
          w[c] = upper_limit_;
          continue;
        }
        const double balanced = static_cast<double>(total) /
                                (static_cast<double>(present) * static_cast<double>(counts_[c]));
        w[c] = std::min(balanced, upper_limit_);
      }
    }
    if (averaged_) {
      // The predecessor's weight_cumulative: a running average with the previous weights.
      for (std::size_t c = 0; c < w.size(); ++c) w[c] = 0.5 * (previous_[c] + w[c]);
      previous_ = w;
    }
    weights_.set(std::move(w));
  }

  at::Tensor operator()(const at::Tensor& logits, const at::Tensor& targets) override {
    return at::cross_entropy_loss(logits, targets, weights_.like(logits), at::Reduction::Mean);
  }

  std::vector<double> class_weights() const override { return weights_.values(); }

 private:
  double upper_limit_;
  bool all_domains_;  ///< count every domain so far (weight_counts "all_domains")
  bool averaged_;     ///< average with the previous weights (weight_cumulative)
  std::vector<int64_t> counts_;
  std::vector<double> previous_;  ///< the weights before this domain's (weight_cumulative)
  ClassWeights weights_;
};

FocalLoss::Alpha parse_alpha(const config::LossConfig& c, int64_t num_classes) {
  if (c.alpha == "none") return FocalLoss::Alpha::kNone;
  if (c.alpha == "auto") return FocalLoss::Alpha::kAuto;
  if (c.alpha == "list") {
    if (static_cast<int64_t>(c.alpha_values.size()) != num_classes) {
      throw ConfigError("loss.alpha: the list has " + std::to_string(c.alpha_values.size()) +
                        " values but the dataset has " + std::to_string(num_classes) +
                        " classes; give one weight per class");
    }
    return FocalLoss::Alpha::kList;
  }
  throw ConfigError("loss.alpha: expected none, auto or list, got '" + c.alpha + "'");
}

}  // namespace

const Registry<LossBuilder>& loss_registry() {
  static const Registry<LossBuilder> registry = [] {
    Registry<LossBuilder> r("loss");
    r.add("cross_entropy", "cross-entropy (label_smoothing)",
          [](const config::LossConfig& c, int64_t) -> std::unique_ptr<Loss> {
            return std::make_unique<CrossEntropyLoss>(c.label_smoothing);
          });
    r.add("focal",
          "focal loss -alpha (1 - p)^gamma log p (gamma; alpha none, auto or a list; "
          "weight_cumulative averages auto's)",
          [](const config::LossConfig& c, int64_t num_classes) -> std::unique_ptr<Loss> {
            return std::make_unique<FocalLoss>(c.gamma, parse_alpha(c, num_classes), c.alpha_values,
                                               num_classes, c.weight_cumulative);
          });
    r.add("weighted_cross_entropy",
          "cross-entropy weighted by inverse class frequency (weight_upper_limit, "
          "weight_counts, weight_cumulative)",
          [](const config::LossConfig& c, int64_t num_classes) -> std::unique_ptr<Loss> {
            return std::make_unique<WeightedCrossEntropyLoss>(
                c.weight_upper_limit, c.weight_counts == "all_domains", c.weight_cumulative,
                num_classes);
          });
    return r;
  }();
  return registry;
}

std::unique_ptr<Loss> make_loss(const config::LossConfig& c, int64_t num_classes) {
  TORCH_CHECK(num_classes > 0, "make_loss: num_classes must be > 0, got ", num_classes);
  return loss_registry().get(c.name).build(c, num_classes);
}

}  // namespace moedil::train
