#include "moedil/train/footprint.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "moedil/common/error.h"
#include "moedil/model/parameter_estimate.h"

namespace moedil::train {
namespace {

std::string scientific(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, v < 1e6 ? "%.0f" : "%.3g", v);
  return buffer;
}

/// What a run's estimate may take of the memory: activations, the process and the system need
/// the rest (CORe50 at 224x224 in memory, 23.1 GiB of images, would otherwise pass on a 23.5 GiB
/// machine and then exhaust it).
constexpr double kUsableFraction = 0.9;

/// The keys that size a family's model, for the advice in the message.
std::string size_keys(const std::string& family) {
  if (family.rfind("resnet18", 0) == 0) {
    return "model.resnet_width, model.moe_num_unshared_experts, model.moe_num_shared_experts";
  }
  if (family == "convnext_tiny") return "model.convnext_dims, model.convnext_depths";
  return "model.embed_dim, model.depth, model.mlp_ratio, model.patch_size, "
         "model.moe_num_unshared_experts, model.moe_num_shared_experts";
}

/// The datasets decoded from image files, which the decoded-image cache can map.
bool image_files(const config::RunConfig& c) {
  return c.dataset == "imagefolder" || c.dataset == "officehome" || c.dataset == "core50";
}

}  // namespace

MemoryEstimate estimate_memory(const config::RunConfig& c) {
  MemoryEstimate m;
  m.data = data::dataset_extent(c);
  m.parameters = model::estimate_parameters(
      c.model, {m.data.channels, m.data.height, m.data.width, m.data.num_classes});
  const std::string& opt = c.optimizer.name;
  const double state = opt == "adam" || opt == "adamw" ? 8.0
                       : opt == "sgd"                  ? (c.optimizer.momentum > 0.0 ? 4.0 : 0.0)
                                                       : 8.0;
  m.bytes_per_parameter = 4.0 + 4.0 + state;
  m.models = c.baseline.enabled ? 2.0 : 1.0;
  m.model_bytes = m.parameters * m.bytes_per_parameter * m.models;
  const std::string& type = c.partition.type;
  const bool transformed = type == "rotate" || type == "noise" || type == "permute";
  m.image_copies = transformed ? 1.0 + static_cast<double>(c.num_partitions) : 1.0;
  const bool draw_copies = c.pretrain.enabled && c.pretrain.num_samples > 0 &&
                           c.pretrain.draw == "dataset" && !c.pretrain.with_replacement;
  m.mapped = image_files(c) && !c.cache_dir.empty() && c.dataset_split != "train" &&
             c.mini_dataset <= 0 && !transformed && !draw_copies;
  m.data_bytes = m.mapped ? 0.0 : m.data.bytes() * m.image_copies;
  m.total_bytes = m.model_bytes + m.data_bytes;
  return m;
}

uint64_t memory_limit_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  uint64_t limit = pages > 0 && page_size > 0
                       ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                       : UINT64_MAX;
  // A cgroup (v2) limit below the RAM is what this process actually gets.
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string value;
  if (cgroup >> value && !value.empty() && value != "max") {
    try {
      const uint64_t max = std::stoull(value);
      if (max > 0 && max < limit) limit = max;
    } catch (const std::exception&) {
    }
  }
  return limit;
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  while (bytes >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
    bytes /= 1024.0;
    ++unit;
  }
  char buffer[48];
  if (unit == 0) {
    std::snprintf(buffer, sizeof buffer, "%.0f B", bytes);
  } else if (bytes >= 1024.0) {  // beyond EiB
    std::snprintf(buffer, sizeof buffer, "%.3g %s", bytes, units[unit]);
  } else {
    std::snprintf(buffer, sizeof buffer, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s",
                  bytes, units[unit]);
  }
  return buffer;
}

MemoryEstimate check_memory(const config::RunConfig& c, const std::string& source,
                            uint64_t limit) {
  const MemoryEstimate m = estimate_memory(c);
  if (!(m.total_bytes > kUsableFraction * static_cast<double>(limit))) return m;
  std::string message =
      source + ": the run needs an estimated " + format_bytes(m.total_bytes) +
      " of memory, more than 90% of the " + format_bytes(static_cast<double>(limit)) +
      " of this machine (activations, the process and the system need the rest):\n  model '" +
      c.model.name + "': " +
      scientific(m.parameters) + " parameters x " + scientific(m.bytes_per_parameter) +
      " bytes (float weights, gradients and " + c.optimizer.name + " state)" +
      (m.models > 1 ? " x 2 (baseline.enabled: a baseline model trains beside it)" : "") +
      " = " + format_bytes(m.model_bytes) + "\n  images: " + scientific(m.data.images) +
      " of " + std::to_string(m.data.channels) + "x" + std::to_string(m.data.height) + "x" +
      std::to_string(m.data.width) + " bytes" +
      (m.data.from_files ? "" : " (the dataset's nominal size: its files were not found)") +
      " = " + format_bytes(m.data.bytes());
  if (m.image_copies > 1) {
    message += ", held " + scientific(m.image_copies) + " times (the dataset and one copy per " +
               c.partition.type + " domain) = " + format_bytes(m.data_bytes);
  }
  message += "\n  Make the model smaller (" + size_keys(c.model.name) +
             ") or use fewer images (mini_dataset, resize).";
  if (image_files(c) && c.cache_dir.empty()) {
    message += " Or set cache_dir: '" + c.dataset +
               "' is then decoded once into that folder and mapped from disk, not held in memory.";
  }
  throw ConfigError(message);
}

}  // namespace moedil::train
