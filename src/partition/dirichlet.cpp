#include "moedil/partition/dirichlet.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/random.h"
#include "moedil/common/stop.h"

namespace moedil::partition {
namespace {

/// Stream id of the Dirichlet draws (mixed with the attempt number), apart from the per-partition
/// split seeds mix_seed(seed, {index}).
constexpr uint64_t kDirichletStream = 0x6469726963686c74ULL;  // "dirichlt"

constexpr double kPi = 3.14159265358979323846;

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

void check_alpha(double alpha) {
  if (!(alpha > 0.0) || !std::isfinite(alpha)) {
    throw ConfigError("partition.alpha: must be a finite number > 0, got " +
                      format_number(alpha));
  }
}

/// log of a Gamma(shape, 1) draw (Marsaglia and Tsang 2000), shape > 0. Kept in log space so
/// that the U^(1/shape) boost of small shapes cannot underflow.
double log_gamma_draw(std::mt19937_64& engine, double shape) {
  const bool boost = shape < 1.0;
  const double a = boost ? shape + 1.0 : shape;
  const double d = a - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  double log_value = 0.0;
  for (;;) {
    const double x = standard_normal(engine);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = uniform_open01(engine);
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2 || std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) {
      log_value = std::log(d) + std::log(v);
      break;
    }
  }
  if (boost) log_value += std::log(uniform_open01(engine)) / shape;
  return log_value;
}

/// Labels of d as int64 values in [0, num_classes), and num_classes (d.num_classes, or the
/// largest label + 1 when it is not set). DataError otherwise.
std::pair<std::vector<int64_t>, int64_t> checked_labels(const data::Dataset& d) {
  const int64_t n = d.size();
  if (!d.labels.defined() || d.labels.numel() != n) {
    throw DataError("dataset '" + d.name +
                    "': the dirichlet partition needs one label per image (" +
                    std::to_string(n) + " images, " +
                    std::to_string(d.labels.defined() ? d.labels.numel() : 0) + " labels)");
  }
  const at::Tensor t = d.labels.to(at::kLong).contiguous();
  std::vector<int64_t> labels(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + n);
  int64_t num_classes = d.num_classes;
  if (num_classes <= 0) {
    num_classes = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  }
  for (int64_t label : labels) {
    if (label < 0 || label >= num_classes) {
      throw DataError("dataset '" + d.name + "': label " + std::to_string(label) +
                      " is outside [0, " + std::to_string(num_classes) +
                      "), so the dirichlet partition cannot group it by class");
    }
  }
  return {std::move(labels), num_classes};
}

/// Unbalanced: each class's shuffled rows cut by its proportions (cumulative, floored; the last
/// partition takes the rest).
std::vector<std::vector<int64_t>> cut_by_proportions(
    const std::vector<std::vector<int64_t>>& by_class, int64_t num_partitions, double alpha,
    std::mt19937_64& engine) {
  std::vector<std::vector<int64_t>> parts(static_cast<std::size_t>(num_partitions));
  for (const std::vector<int64_t>& members : by_class) {
    const std::vector<double> props = sample_dirichlet(engine, alpha, num_partitions);
    const auto n = static_cast<int64_t>(members.size());
    const std::vector<int64_t> order = random_permutation(n, engine());
    double cumulative = 0.0;
    int64_t start = 0;
    for (int64_t j = 0; j < num_partitions; ++j) {
      cumulative += props[static_cast<std::size_t>(j)];
      const int64_t end =
          j == num_partitions - 1
              ? n
              : std::clamp(static_cast<int64_t>(std::floor(cumulative * static_cast<double>(n))),
                           start, n);
      for (int64_t i = start; i < end; ++i) {
        parts[static_cast<std::size_t>(j)].push_back(members[static_cast<std::size_t>(order[i])]);
      }
      start = end;
    }
  }
  return parts;
}

/// Balanced: every partition takes `size` samples. Partition j's target class mix is
/// proportional to props[k][j] * n_k (what the unbalanced cut would give it); round-robin over the
/// partitions, each takes the next shuffled sample of the class furthest below its target count.
std::vector<std::vector<int64_t>> fill_balanced(const std::vector<std::vector<int64_t>>& by_class,
                                                int64_t num_partitions, int64_t size,
                                                double alpha, std::mt19937_64& engine) {
  const auto num_classes = by_class.size();
  const auto p = static_cast<std::size_t>(num_partitions);
  std::vector<std::vector<int64_t>> shuffled(num_classes);
  std::vector<std::vector<double>> target(p, std::vector<double>(num_classes, 0.0));
  double total = 0.0;
  for (std::size_t k = 0; k < num_classes; ++k) {
    const std::vector<double> props = sample_dirichlet(engine, alpha, num_partitions);
    const auto n = static_cast<int64_t>(by_class[k].size());
    for (int64_t i : random_permutation(n, engine())) {
      shuffled[k].push_back(by_class[k][static_cast<std::size_t>(i)]);
    }
    for (std::size_t j = 0; j < p; ++j) target[j][k] = props[j] * static_cast<double>(n);
    total += static_cast<double>(n);
  }
  for (std::size_t j = 0; j < p; ++j) {
    double sum = 0.0;
    for (double w : target[j]) sum += w;
    for (std::size_t k = 0; k < num_classes; ++k) {
      // A partition the draw gave nothing falls back to the dataset's class mix.
      target[j][k] = sum > 0.0 ? target[j][k] / sum
                               : static_cast<double>(by_class[k].size()) / total;
    }
  }
  std::vector<std::vector<int64_t>> parts(p);
  std::vector<std::vector<int64_t>> taken(p, std::vector<int64_t>(num_classes, 0));
  std::vector<std::size_t> next(num_classes, 0);
  for (int64_t t = 1; t <= size; ++t) {
    for (std::size_t j = 0; j < p; ++j) {
      std::size_t best = num_classes;
      double best_deficit = -std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < num_classes; ++k) {
        if (next[k] >= shuffled[k].size()) continue;
        const double deficit =
            target[j][k] * static_cast<double>(t) - static_cast<double>(taken[j][k]);
        if (deficit > best_deficit) {
          best_deficit = deficit;
          best = k;
        }
      }
      // size * P <= N, so some class always has samples left.
      parts[j].push_back(shuffled[best][next[best]++]);
      ++taken[j][best];
    }
  }
  return parts;
}

}  // namespace

double standard_normal(std::mt19937_64& engine) {
  const double u1 = uniform_open01(engine);
  const double u2 = uniform_open01(engine);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

double sample_gamma(std::mt19937_64& engine, double shape) {
  if (!(shape > 0.0) || !std::isfinite(shape)) {
    throw ConfigError("gamma shape must be a finite number > 0, got " + format_number(shape));
  }
  return std::exp(log_gamma_draw(engine, shape));
}

std::vector<double> sample_dirichlet(std::mt19937_64& engine, double alpha, int64_t k) {
  check_alpha(alpha);
  if (k < 1) throw ConfigError("num_partitions: must be >= 1, got " + std::to_string(k));
  std::vector<double> logs(static_cast<std::size_t>(k));
  for (double& l : logs) l = log_gamma_draw(engine, alpha);
  const double top = *std::max_element(logs.begin(), logs.end());
  double sum = 0.0;
  for (double& l : logs) {
    l = std::exp(l - top);
    sum += l;
  }
  for (double& l : logs) l /= sum;  // sum >= 1: the largest term is exp(0)
  return logs;
}

std::vector<Domain> dirichlet_domains(const data::Dataset& d, const config::RunConfig& c) {
  const config::PartitionConfig& pc = c.partition;
  const int64_t num_partitions = c.num_partitions;
  if (num_partitions < 1) {
    throw ConfigError("num_partitions: must be >= 1, got " + std::to_string(num_partitions));
  }
  check_alpha(pc.alpha);
  if (pc.min_size < 0) {
    throw ConfigError("partition.min_size: must be >= 0, got " + std::to_string(pc.min_size));
  }
  if (pc.retries < 1) {
    throw ConfigError("partition.retries: must be >= 1, got " + std::to_string(pc.retries));
  }
  const auto [labels, num_classes] = checked_labels(d);
  const int64_t n = d.size();
  // An empty partition is never usable, whatever min_size says.
  const int64_t required = std::max<int64_t>(pc.min_size, 1);
  if (n / num_partitions < required) {
    throw DataError("partition.min_size: " + std::to_string(num_partitions) +
                    " partitions (num_partitions) of at least " + std::to_string(required) +
                    " samples (min_size " + std::to_string(pc.min_size) + ") need " +
                    std::to_string(num_partitions) + " x " + std::to_string(required) +
                    " samples, but dataset '" + d.name + "' has " + std::to_string(n) +
                    ", whatever partition.alpha (" + format_number(pc.alpha) +
                    "); lower partition.min_size or num_partitions, or use more data "
                    "(mini_dataset)");
  }
  std::vector<std::vector<int64_t>> by_class(static_cast<std::size_t>(num_classes));
  for (int64_t i = 0; i < n; ++i) {
    by_class[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])].push_back(i);
  }
  const auto seed = static_cast<uint64_t>(c.seeds.partition);

  std::vector<std::vector<int64_t>> parts;
  if (pc.balanced) {
    std::mt19937_64 engine(mix_seed(seed, {kDirichletStream, 0}));
    parts = fill_balanced(by_class, num_partitions, n / num_partitions, pc.alpha, engine);
  } else {
    int64_t best_smallest = -1;
    for (int64_t attempt = 0; attempt < pc.retries && parts.empty(); ++attempt) {
      throw_if_stopped("drawing the Dirichlet partitions");
      std::mt19937_64 engine(mix_seed(seed, {kDirichletStream, static_cast<uint64_t>(attempt)}));
      std::vector<std::vector<int64_t>> draw =
          cut_by_proportions(by_class, num_partitions, pc.alpha, engine);
      int64_t smallest = n;
      for (const auto& part : draw) {
        smallest = std::min(smallest, static_cast<int64_t>(part.size()));
      }
      best_smallest = std::max(best_smallest, smallest);
      if (smallest >= required) parts = std::move(draw);
    }
    if (parts.empty()) {
      throw DataError(
          "partition.min_size: no Dirichlet draw with partition.alpha " + format_number(pc.alpha) +
          " gave each of the " + std::to_string(num_partitions) +
          " partitions (num_partitions) of dataset '" + d.name + "' (" + std::to_string(n) +
          " samples, " + std::to_string(num_classes) + " classes) at least " +
          std::to_string(required) + " samples; the best of " + std::to_string(pc.retries) +
          " draws (partition.retries) had a smallest partition of " +
          std::to_string(best_smallest) +
          ". Raise partition.alpha (more even proportions), lower partition.min_size or "
          "num_partitions, use more data, raise partition.retries, or set partition.balanced");
    }
  }

  for (auto& rows : parts) std::sort(rows.begin(), rows.end());
  return partition_domains(d, std::move(parts), c);
}

}  // namespace moedil::partition
