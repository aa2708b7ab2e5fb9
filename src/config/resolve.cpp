#include "moedil/config/resolve.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "moedil/common/ascii.h"
#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"
#include "moedil/common/random.h"
#include "moedil/common/suggest.h"
#include "moedil/config/model_families.h"
#include "moedil/config/predecessor.h"
#include "moedil/config/pretrained.h"

namespace moedil::config {
namespace {

using json = nlohmann::json;

/// A check on a parsed value: returns "" when fine, else what is wrong.
template <class T>
using Check = std::function<std::string(const T&)>;

// Upper bounds of the size and count keys: generous (far above any config that trains on one
// machine), but low enough that no product of them overflows int64 and that a typo (an extra
// digit or ten) is refused at once instead of after minutes of allocation. The memory estimate
// (train/footprint.h) then judges whether the combination fits the machine.
constexpr int64_t kMaxEpochs = 1'000'000;        // any epoch count
constexpr int64_t kMaxSamples = 1'000'000'000;    // sample counts (mini_dataset, replay, ...)
constexpr int64_t kMaxBatch = 1 << 20;            // batch sizes
constexpr int64_t kMaxImageSide = 4096;           // resize
constexpr int64_t kMaxCropPadding = 256;          // augmentation.random_crop_padding
constexpr int64_t kMaxDomains = 1000;             // num_partitions
constexpr int64_t kMaxWidth = 65536;              // embed_dim, convnext_dims
constexpr int64_t kMaxDepth = 1000;               // depth, expert_depth, convnext_depths
constexpr int64_t kMaxHeads = 1024;               // num_heads
constexpr int64_t kMaxPatch = 1024;               // patch_size, convnext_stem_patch
constexpr double kAdamWDefaultWeightDecay = 0.01;  // torch.optim.AdamW and torch::optim::AdamW
constexpr int64_t kMaxExperts = 1024;             // experts of one MoE layer
constexpr int64_t kMaxResnetWidth = 4096;         // resnet_width (the last stage has 8x)
constexpr int64_t kMaxThreads = 1024;             // num_threads, num_workers
constexpr int64_t kMaxClasses = 1'000'000;        // model.num_classes
constexpr int64_t kMaxSteps = 1'000'000'000;      // expert_merging.every_steps
constexpr int64_t kMaxRetries = 1'000'000;        // partition.retries
// Routing temperatures below this divide cosine similarities into float overflow (NaN).
constexpr double kMinTemperature = 1e-6;
// Class weights are capped at weight_upper_limit; below this they underflow float to 0.
constexpr double kMinWeightLimit = 1e-6;

/// lo <= v <= hi.
Check<int64_t> between(int64_t lo, int64_t hi) {
  return [lo, hi](const int64_t& v) -> std::string {
    if (v >= lo && v <= hi) return "";
    return std::to_string(v) + " is out of range: must be in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
  };
}

/// Every value in [lo, hi] (a `what` index, e.g. a stage).
Check<std::vector<int64_t>> each_in(int64_t lo, int64_t hi, std::string what) {
  return [=](const std::vector<int64_t>& v) -> std::string {
    for (int64_t x : v) {
      if (x < lo || x > hi) {
        return what + " " + std::to_string(x) + " is out of range: valid " + std::to_string(lo) +
               ".." + std::to_string(hi);
      }
    }
    return "";
  };
}

/// Exactly `count` values, each in [lo, hi].
Check<std::vector<int64_t>> values_between(std::size_t count, int64_t lo, int64_t hi) {
  return [=](const std::vector<int64_t>& v) -> std::string {
    if (v.size() != count) {
      return "expected " + std::to_string(count) + " values, got " + std::to_string(v.size());
    }
    for (int64_t x : v) {
      if (x < lo || x > hi) {
        return std::to_string(x) + " is out of range: every value must be in [" +
               std::to_string(lo) + ", " + std::to_string(hi) + "]";
      }
    }
    return "";
  };
}

/// Per-expert LR factors: each in [0, 1e3].
Check<std::vector<double>> lr_factors() {
  return [](const std::vector<double>& v) -> std::string {
    for (double x : v) {
      if (!(x >= 0.0 && x <= 1e3)) {
        return json(x).dump() + " is out of range: every factor must be in [0, 1000]";
      }
    }
    return "";
  };
}

Check<double> in_range(double lo, double hi, bool include_lo, bool include_hi) {
  return [=](const double& v) -> std::string {
    const bool ok = (include_lo ? v >= lo : v > lo) && (include_hi ? v <= hi : v < hi);
    if (ok) return "";
    return json(v).dump() + " is out of range: must be in " + (include_lo ? "[" : "(") +
           json(lo).dump() + ", " + json(hi).dump() + (include_hi ? "]" : ")");
  };
}

/// Names from `valid` (unknown ones name the closest; an empty list is not checked) mapped to
/// weights >= 0.
Check<std::map<std::string, double>> weights_of(std::vector<std::string> valid, std::string what) {
  return [valid = std::move(valid), what = std::move(what)](
             const std::map<std::string, double>& v) -> std::string {
    for (const auto& [name, weight] : v) {
      if (!valid.empty() && std::find(valid.begin(), valid.end(), name) == valid.end()) {
        return unknown_name_message(what, name, valid);
      }
      if (!(weight >= 0.0 && weight <= 1e6)) {
        return "'" + excerpt(name) + "': weight " + json(weight).dump() + " must be in [0, 1e6]";
      }
    }
    return "";
  };
}

Check<std::string> one_of(std::vector<std::string> valid, std::string what) {
  return [valid = std::move(valid), what = std::move(what)](const std::string& v) -> std::string {
    if (valid.empty() || std::find(valid.begin(), valid.end(), v) != valid.end()) return "";
    return unknown_name_message(what, v, valid);
  };
}

/// "type value" with the value cut short; safe for any value (strings are not dumped whole,
/// bytes that are not UTF-8 are escaped).
std::string describe(const json& j) {
  constexpr std::size_t kShown = 40;
  if (j.is_string()) return "string \"" + excerpt(j.get_ref<const std::string&>(), kShown) + "\"";
  const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return std::string(j.type_name()) + " " + excerpt(text, kShown);
}

// Conversions from JSON; each returns "" on success, else the type problem.
std::string convert(const json& j, std::string& out) {
  if (!j.is_string()) return "expected a string, got " + describe(j);
  out = j.get<std::string>();
  return "";
}
std::string convert(const json& j, bool& out) {
  if (!j.is_boolean()) return "expected true or false, got " + describe(j);
  out = j.get<bool>();
  return "";
}
std::string convert(const json& j, int64_t& out) {
  if (!j.is_number_integer()) return "expected an integer, got " + describe(j);
  if (j.is_number_unsigned() &&
      j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return "expected an integer, got " + describe(j) + ", beyond the largest int64";
  }
  out = j.get<int64_t>();
  return "";
}
std::string convert(const json& j, double& out) {
  if (!j.is_number()) return "expected a number, got " + describe(j);
  out = j.get<double>();
  return "";
}
std::string convert(const json& j, std::map<std::string, double>& out) {
  if (!j.is_object()) return "expected an object {\"name\": weight, ...}, got " + describe(j);
  std::map<std::string, double> values;
  for (const auto& item : j.items()) {
    if (!item.value().is_number()) {
      return "'" + excerpt(item.key()) + "': expected a number, got " + describe(item.value());
    }
    values[item.key()] = item.value().get<double>();
  }
  out = std::move(values);
  return "";
}
template <class T>
std::string convert(const json& j, std::vector<T>& out) {
  if (!j.is_array()) return "expected a list, got " + describe(j);
  std::vector<T> values(j.size());
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string problem = convert(j[i], values[i]);
    if (!problem.empty()) return "element " + std::to_string(i) + ": " + problem;
  }
  out = std::move(values);
  return "";
}

/// Reads one JSON object into config fields, collecting issues; finish() flags unknown keys.
class Reader {
 public:
  Reader(const json* object, std::string prefix, std::vector<ConfigIssue>& issues)
      : object_(object), prefix_(std::move(prefix)), issues_(issues) {}

  bool has(const char* key) const { return object_ && object_->contains(key); }

  /// From here on, keys that the model family `name` does not read are refused when set (and
  /// not read). Nothing is restricted when the name was refused or names no family.
  void only_family(const std::string& name) {
    if (has("name") && object_->at("name") != json(name)) return;
    family_ = find_model_family(name);
  }

  template <class T>
  void field(const char* key, T& out, const Check<T>& check = {}) {
    known_.emplace_back(key);
    if (!has(key) || refused(key)) return;
    T value = out;
    const std::string problem = convert(object_->at(key), value);
    if (!problem.empty()) return issue(key, problem);
    if (check) {
      const std::string bad = check(value);
      // A refused value is not kept: later checks (and loops such as the block indices of
      // model.depth) see the default instead of, say, 10^12 blocks.
      if (!bad.empty()) return issue(key, bad);
    }
    out = std::move(value);
  }

  /// A name or a list of names, each one of `valid`, none twice.
  void names_or_list(const char* key, std::vector<std::string>& out,
                     const std::vector<std::string>& valid, const std::string& what) {
    known_.emplace_back(key);
    if (!has(key)) return;
    const json& value = object_->at(key);
    std::vector<std::string> names;
    if (value.is_string()) {
      names.push_back(value.get<std::string>());
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string()) {
          return issue(key, "element " + std::to_string(i) + ": expected a name, got " +
                                describe(value[i]));
        }
        names.push_back(value[i].get<std::string>());
      }
    } else {
      return issue(key, "expected a name or a list of names, got " + describe(value));
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
      const std::string bad = one_of(valid, what)(names[i]);
      if (!bad.empty()) return issue(key, bad);
      if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
          names.begin() + static_cast<std::ptrdiff_t>(i)) {
        return issue(key, "'" + excerpt(names[i]) + "' is listed twice");
      }
    }
    out = std::move(names);
  }

  /// Block indices: a list, "every_other" (1, 3, ...), "all", or the predecessor's
  /// "back_half_every_other" (the odd blocks from depth / 2 on) and null (block 1); missing =
  /// "every_other".
  void layer_indices(const char* key, std::vector<int64_t>& out, int64_t depth) {
    known_.emplace_back(key);
    if (has(key) && refused(key)) return;
    const json value = has(key) ? object_->at(key) : json("every_other");
    out.clear();
    if (value == "every_other" || value == "all" || value == "back_half_every_other") {
      const int64_t first = value == "back_half_every_other" ? depth / 2 : 0;
      for (int64_t i = first; i < depth; ++i) {
        if (value == "all" || i % 2 == 1) out.push_back(i);
      }
      return;
    }
    if (value.is_null()) {
      if (depth > 1) out.push_back(1);
      return;
    }
    if (value.is_string()) {
      issue(key, "expected a list of block indices, \"every_other\", \"all\" or "
                 "\"back_half_every_other\", got " + describe(value));
      return;
    }
    const std::string problem = convert(value, out);
    if (!problem.empty()) return issue(key, problem);
    for (int64_t index : out) {
      if (index < 0 || index >= depth) {
        issue(key, "block index " + std::to_string(index) + " is out of range: model.depth is " +
                       std::to_string(depth) + " (valid 0.." + std::to_string(depth - 1) + ")");
      }
    }
  }

  void read_count_or_null(const char* key, int64_t& out, int64_t max) {
    if (!has(key) || refused(key)) return;
    const json& value = object_->at(key);
    if (value.is_null()) {
      out = -1;
    } else if (!value.is_number_integer()) {
      issue(key, "expected an epoch count or null (never), got " + describe(value));
    } else if (value.get<int64_t>() < 0 || value.get<int64_t>() > max) {
      issue(key, value.dump() + " is out of range: must be in [0, " + std::to_string(max) +
                     "] (null or left out: never)");
    } else {
      out = value.get<int64_t>();
    }
  }

  /// A factor that is either null (stored as 0: no limit) or a number > 0.
  void positive_or_null(const char* key, double& out) {
    known_.emplace_back(key);
    if (!has(key) || refused(key)) return;
    const json& value = object_->at(key);
    if (value.is_null()) {
      out = 0.0;
    } else if (!value.is_number()) {
      issue(key, "expected a number > 0 or null (no limit), got " + describe(value));
    } else if (!(value.get<double>() > 0.0 && value.get<double>() <= 1e6)) {
      issue(key, value.dump() + " is out of range: must be > 0 (leave it out or null for no limit)");
    } else {
      out = value.get<double>();
    }
  }

  /// A number in [0, max], or null (stored as -1).
  void weight_or_null(const char* key, double& out, double max) {
    known_.emplace_back(key);
    if (!has(key) || refused(key)) return;
    const json& value = object_->at(key);
    if (value.is_null()) {
      out = -1.0;
    } else if (!value.is_number()) {
      issue(key, "expected a number >= 0 or null, got " + describe(value));
    } else if (!(value.get<double>() >= 0.0 && value.get<double>() <= max)) {
      std::ostringstream bound;
      bound << max;  // 1, 1e+06
      issue(key, value.dump() + " is out of range: must be in [0, " + bound.str() + "] (or null)");
    } else {
      out = value.get<double>();
    }
  }

  /// An epoch count in [0, max], or null (stored as -1: never).
  void count_or_null(const char* key, int64_t& out, int64_t max) {
    known_.emplace_back(key);
    read_count_or_null(key, out, max);
  }

  /// `key` is another name of `primary` (read by count_or_null): accepted when `primary` is
  /// left out; both set is an error.
  void alias_count_or_null(const char* key, const char* primary, int64_t& out, int64_t max) {
    known_.emplace_back(key);
    if (!has(key) || refused(key)) return;
    if (has(primary)) {
      return issue(key, std::string("is another name of ") + primary + ": set one of them");
    }
    read_count_or_null(key, out, max);
  }

  /// A seed: an integer >= 0, or unseeded with the predecessor's meaning. "random" (any letter
  /// case) draws a fresh seed (entropy_seed) and notes the key in `seeds.drawn`. null, and 0
  /// unless `seeds.zero_is_a_seed`, did not reseed there (the stream went on from the global
  /// seed): for a kind that is the global seed (`global` given), for global itself a draw.
  void seed(const char* key, int64_t& out, SeedsConfig& seeds, const int64_t* global) {
    known_.emplace_back(key);
    if (!has(key)) return;
    const json& value = object_->at(key);
    const bool random = value.is_string() && ascii_lower(value.get<std::string>()) == "random";
    const bool unset = value.is_null() || (value.is_number_integer() &&
                                           value.get<int64_t>() == 0 && !seeds.zero_is_a_seed);
    if (unset && global) {
      out = *global;
    } else if (random || unset) {
      out = entropy_seed();
      seeds.drawn.emplace_back(key);
    } else if (value.is_number_integer() && value.get<int64_t>() >= 0) {
      out = value.get<int64_t>();
    } else {
      issue(key, "expected a seed (an integer >= 0), or 0, \"random\" or null for unseeded, got " +
                     describe(value));
    }
  }

  /// Domain names: a list of strings or integers (integers become their decimal text).
  void name_list(const char* key, std::vector<std::string>& out) {
    known_.emplace_back(key);
    if (!has(key)) return;
    const json& value = object_->at(key);
    if (!value.is_array()) return issue(key, "expected a list of domain names, got " + describe(value));
    std::vector<std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i].is_string()) {
        names.push_back(value[i].get<std::string>());
      } else if (value[i].is_number_integer()) {
        names.push_back(std::to_string(value[i].get<int64_t>()));
      } else {
        return issue(key, "element " + std::to_string(i) + ": expected a name or a number, got " +
                              describe(value[i]));
      }
    }
    out = std::move(names);
  }

  /// Focal alpha: null ("none"), "auto", or a list of per-class weights ("list").
  void class_weights(const char* key, std::string& mode, std::vector<double>& values) {
    known_.emplace_back(key);
    if (!has(key)) return;
    const json& value = object_->at(key);
    if (value.is_null()) {
      mode = "none";
    } else if (value == "auto") {
      mode = "auto";
    } else if (value.is_array()) {
      const std::string problem = convert(value, values);
      if (!problem.empty()) return issue(key, problem);
      for (double v : values) {
        if (!(v >= 0.0)) return issue(key, "class weights must be >= 0, got " + json(v).dump());
      }
      mode = "list";
    } else {
      issue(key, "expected null, \"auto\" or a list of per-class weights, got " +
                     describe(value));
    }
  }

  template <class F>
  void object(const char* key, F&& fill) {
    known_.emplace_back(key);
    const json* sub = nullptr;
    if (has(key)) {
      sub = &object_->at(key);
      if (!sub->is_object()) {
        issue(key, "expected an object { ... }, got " + describe(*sub));
        sub = nullptr;
      }
    }
    Reader reader(sub, prefix_ + key + ".", issues_);
    fill(reader);
    reader.finish();
  }

  void finish() {
    if (!object_) return;
    for (const auto& item : object_->items()) {
      if (std::find(known_.begin(), known_.end(), item.key()) != known_.end()) continue;
      std::string message = "unknown key";
      const std::string guess = closest_match(item.key(), known_);
      if (!guess.empty()) message += "; did you mean '" + prefix_ + guess + "'?";
      issue(item.key(), message);
    }
  }

 private:
  void issue(const std::string& key, const std::string& message) {
    issues_.push_back({prefix_ + key, 0, message});
  }

  /// A key that is set but that the family (see only_family) does not read: an issue.
  bool refused(const char* key) {
    if (!family_ || family_->reads(key)) return false;
    issue(key, not_read_message(*family_));
    return true;
  }

  const json* object_;
  std::string prefix_;
  std::vector<ConfigIssue>& issues_;
  std::vector<std::string> known_;
  const ModelFamily* family_ = nullptr;
};

/// Writes config fields into a JSON object; same interface as Reader.
class Writer {
 public:
  bool has(const char*) const { return true; }
  /// From here on, only the keys the model family `name` reads are written.
  void only_family(const std::string& name) { family_ = find_model_family(name); }
  template <class T, class C = int>
  void field(const char* key, const T& value, const C& = {}) {
    if (writes(key)) out_[key] = value;
  }
  void layer_indices(const char* key, const std::vector<int64_t>& value, int64_t) {
    if (writes(key)) out_[key] = value;
  }
  void name_list(const char* key, const std::vector<std::string>& v) { out_[key] = v; }
  void names_or_list(const char* key, const std::vector<std::string>& v,
                     const std::vector<std::string>&, const std::string&) {
    out_[key] = v;
  }
  void positive_or_null(const char* key, double v) {
    if (writes(key)) out_[key] = v > 0.0 ? json(v) : json(nullptr);
  }
  void weight_or_null(const char* key, double v, double) {
    if (writes(key)) out_[key] = v >= 0.0 ? json(v) : json(nullptr);
  }
  void count_or_null(const char* key, int64_t v, int64_t) {
    if (writes(key)) out_[key] = v >= 0 ? json(v) : json(nullptr);
  }
  void alias_count_or_null(const char*, const char*, int64_t, int64_t) {}  // the primary is written
  void seed(const char* key, int64_t v, const SeedsConfig&, const int64_t*) { out_[key] = v; }
  void class_weights(const char* key, const std::string& mode, const std::vector<double>& v) {
    out_[key] = mode == "auto" ? json("auto") : mode == "list" ? json(v) : json(nullptr);
  }
  template <class F>
  void object(const char* key, F&& fill) {
    Writer writer;
    fill(writer);
    out_[key] = std::move(writer.out_);
  }
  json take() { return std::move(out_); }

 private:
  bool writes(const char* key) const { return !family_ || family_->reads(key); }

  json out_ = json::object();
  const ModelFamily* family_ = nullptr;
};

/// The one list of config keys, shared by reading and writing.
template <class V>
void visit(V& v, RunConfig& c, const NameCatalog& names) {
  v.field("dataset", c.dataset, one_of(names.datasets, "dataset"));
  v.field("dataset_root", c.dataset_root);
  v.field("mini_dataset", c.mini_dataset, between(0, kMaxSamples));
  v.name_list("settings", c.settings);
  v.name_list("test_settings", c.test_settings);
  v.field("resize", c.resize, between(0, kMaxImageSide));
  v.field("cache_dir", c.cache_dir);
  v.field("on_bad_image", c.on_bad_image, one_of({"error", "skip"}, "on_bad_image"));
  v.field("cifar100_labels", c.cifar100_labels, one_of({"fine", "coarse"}, "cifar100_labels"));
  v.field("core50_labels", c.core50_labels, one_of({"object", "category"}, "core50_labels"));
  v.field("test_split", c.test_split, one_of({"partition", "dataset"}, "test_split"));
  v.field("dataset_split", c.dataset_split, one_of({"all", "train"}, "dataset_split"));
  v.object("augmentation", [&](auto& a) {
    a.field("random_resize_crop", c.augmentation.random_resize_crop);
    a.field("random_crop_padding", c.augmentation.random_crop_padding,
            between(0, kMaxCropPadding));
    a.field("horizontal_flip", c.augmentation.horizontal_flip);
    a.field("color_jitter", c.augmentation.color_jitter);
    a.field("blur", c.augmentation.blur);
    a.field("noise", c.augmentation.noise);
    a.field("resize", c.augmentation.crop_size, between(0, kMaxImageSide));
  });
  v.field("num_partitions", c.num_partitions, between(1, kMaxDomains));
  v.object("partition", [&](auto& p) {
    PartitionConfig& part = c.partition;
    p.field("type", part.type, one_of(names.partitions, "partition type"));
    p.field("angles", part.angles);
    p.field("levels", part.levels);
    p.field("alpha", part.alpha, in_range(0.0, 1e6, false, true));
    p.field("min_size", part.min_size, between(0, kMaxSamples));
    p.field("retries", part.retries, between(1, kMaxRetries));
    p.field("balanced", part.balanced);
  });
  v.field("train_frac", c.train_frac, in_range(0.0, 1.0, false, false));
  v.field("batch_size", c.batch_size, between(1, kMaxBatch));
  v.field("eval_batch_size", c.eval_batch_size, between(1, kMaxBatch));
  v.field("shuffle", c.shuffle);
  v.object("model", [&](auto& m) {
    ModelConfig& model = c.model;
    m.field("name", model.name, one_of(names.models, "model"));
    // Each family reads only its keys (config/model_families.h): setting another is an error.
    m.only_family(model.name);
    if (model.name == "vit_moe_imagelevel") {
      // The predecessor's model keeps its factory's defaults for the keys left out (MoE in
      // every block, below). has() is true for every key when writing: nothing changes then.
      if (!m.has("patch_size")) model.patch_size = 16;
      if (!m.has("embed_dim")) model.embed_dim = 256;
      if (!m.has("depth")) model.depth = 10;
      if (!m.has("num_heads")) model.num_heads = 4;
      if (!m.has("mlp_ratio")) model.mlp_ratio = 1.0;
    }
    m.field("patch_size", model.patch_size, between(1, kMaxPatch));
    m.field("embed_dim", model.embed_dim, between(1, kMaxWidth));
    m.field("depth", model.depth, between(1, kMaxDepth));
    m.field("num_heads", model.num_heads, between(1, kMaxHeads));
    m.field("mlp_ratio", model.mlp_ratio, in_range(0.0, 64.0, false, true));
    m.field("dropout", model.dropout, in_range(0.0, 1.0, true, false));
    m.field("layer_norm_eps", model.layer_norm_eps, in_range(0.0, 1.0, true, false));
    m.field("init_weights", model.init_weights);
    m.field("pretrained", model.pretrained);
    m.field("upcycle_noise", model.upcycle_noise, in_range(0.0, 100.0, true, true));
    m.field("freeze_backbone", model.freeze_backbone);
    m.field("num_classes", model.num_classes, between(0, kMaxClasses));
    m.field("img_size", model.img_size, between(0, kMaxImageSide));
    m.layer_indices("moe_layer_indices", model.moe_layer_indices, model.depth);
    if (model.name == "vit_moe_imagelevel" && !m.has("moe_layer_indices")) {
      model.moe_layer_indices.clear();
      for (int64_t i = 0; i < model.depth; ++i) model.moe_layer_indices.push_back(i);
    }
    // vit_moe: 0 and 0 are the predecessor's shared-experts-only layer (model_families.cpp).
    const int64_t fewest_routed = model.name == "vit_moe" ? 0 : 1;
    m.field("moe_num_unshared_experts", model.moe_num_unshared_experts,
            between(fewest_routed, kMaxExperts));
    m.field("moe_num_shared_experts", model.moe_num_shared_experts, between(0, kMaxExperts));
    m.field("moe_top_k", model.moe_top_k, between(fewest_routed, kMaxExperts));
    m.field("moe_unshared_lr_multipliers", model.moe_unshared_lr_multipliers, lr_factors());
    m.field("moe_shared_lr_multipliers", model.moe_shared_lr_multipliers, lr_factors());
    m.field("moe_routing_granularity", model.moe_routing_granularity,
            one_of({"sample", "token"}, "moe_routing_granularity"));
    m.field("moe_route_with_cls_token", model.moe_route_with_cls_token);
    if (!model.moe_route_with_cls_token && !m.has("moe_route_on")) model.moe_route_on = "mean";
    m.field("moe_route_on", model.moe_route_on, one_of({"cls", "mean"}, "moe_route_on"));
    m.field("moe_gate", model.moe_gate, one_of({"renormalized", "probability"}, "moe_gate"));
    m.field("moe_noise_std", model.moe_noise_std, in_range(0.0, 1e3, true, true));
    m.positive_or_null("moe_capacity_factor", model.moe_capacity_factor);
    m.field("moe_routing", model.moe_routing,
            one_of({"token_choice", "expert_choice"}, "moe_routing"));
    m.field("moe_expert_dropout", model.moe_expert_dropout, in_range(0.0, 1.0, true, false));
    if (model.name != "vit_moe" && !m.has("moe_balance_losses")) {
      model.moe_balance_losses = {{"switch", 1.0}};  // the predecessor's default is vit_moe's
    }
    m.field("moe_balance_losses", model.moe_balance_losses,
            weights_of(names.balance_losses, "balance loss"));
    // ResNet and ConvNeXt families.
    m.field("resnet_stem", model.resnet_stem, one_of({"cifar", "imagenet"}, "resnet_stem"));
    m.field("resnet_width", model.resnet_width, between(1, kMaxResnetWidth));
    m.field("resnet_moe_stages", model.resnet_moe_stages, each_in(0, 3, "stage"));
    m.field("convnext_depths", model.convnext_depths, values_between(4, 1, kMaxDepth));
    m.field("convnext_dims", model.convnext_dims, values_between(4, 1, kMaxWidth));
    m.field("convnext_stem_patch", model.convnext_stem_patch, between(1, kMaxPatch));
    m.field("hetero_experts", model.hetero_experts,
            Check<std::vector<std::string>>([](const std::vector<std::string>& kinds) {
              if (kinds.empty()) return std::string("needs at least one expert kind");
              if (kinds.size() > static_cast<std::size_t>(kMaxExperts)) {
                return std::to_string(kinds.size()) + " experts is out of range: at most " +
                       std::to_string(kMaxExperts);
              }
              for (const auto& kind : kinds) {
                const std::string bad =
                    one_of({"mlp", "conv", "attention"}, "hetero expert kind")(kind);
                if (!bad.empty()) return bad;
              }
              return std::string();
            }));
    // vit_moe_centroid, vit_moe_imagelevel and switch_moe_vit
    m.field("alpha_fast", model.alpha_fast, in_range(0.0, 1.0, true, true));
    m.field("alpha_slow", model.alpha_slow, in_range(0.0, 1.0, true, true));
    m.field("temperature_start", model.temperature_start,
            in_range(kMinTemperature, 1e6, true, true));
    m.field("temperature_end", model.temperature_end,
            in_range(kMinTemperature, 1e6, true, true));
    m.field("anneal_epochs", model.anneal_epochs, between(1, kMaxEpochs));
    m.field("repulsion_weight", model.repulsion_weight, in_range(0.0, 1e6, true, true));
    m.field("alignment_weight", model.alignment_weight, in_range(0.0, 1e6, true, true));
    m.field("consistency_weight", model.consistency_weight, in_range(0.0, 1e6, true, true));
    m.field("kl_balance_weight_start", model.kl_balance_weight_start,
            in_range(0.0, 1e6, true, true));
    m.field("kl_balance_weight_end", model.kl_balance_weight_end, in_range(0.0, 1e6, true, true));
    m.field("expert_depth", model.expert_depth, between(1, kMaxDepth));
    m.field("freeze_shared", model.freeze_shared);
    m.field("ema_alpha", model.ema_alpha, in_range(0.0, 1.0, true, true));
    m.weight_or_null("routing_alpha", model.routing_alpha, 1.0);
    m.field("prototype_init_dataset", model.prototype_init_dataset);
    m.field("prototype_init_layer", model.prototype_init_layer, between(-1, kMaxDepth));
    // vit_prototype_heads
    m.field("router_temperature", model.router_temperature,
            in_range(kMinTemperature, 1e6, true, true));
    m.field("head_mixing", model.head_mixing, one_of({"selected", "weighted"}, "head_mixing"));
  });
  v.object("optimizer", [&](auto& o) {
    o.field("name", c.optimizer.name, one_of(names.optimizers, "optimizer"));
    o.field("lr", c.optimizer.lr, in_range(0.0, 1e3, false, true));
    if (!o.has("weight_decay")) {
      c.optimizer.weight_decay = c.optimizer.name == "adamw" ? kAdamWDefaultWeightDecay : 0.0;
    }
    o.field("weight_decay", c.optimizer.weight_decay, in_range(0.0, 1e3, true, true));
    o.field("momentum", c.optimizer.momentum, in_range(0.0, 1.0, true, false));
    o.field("nesterov", c.optimizer.nesterov);
  });
  v.object("loss", [&](auto& l) {
    LossConfig& loss = c.loss;
    l.field("name", loss.name, one_of(names.losses, "loss"));
    l.field("label_smoothing", loss.label_smoothing, in_range(0.0, 1.0, true, false));
    l.field("gamma", loss.gamma, in_range(0.0, 100.0, true, true));
    l.class_weights("alpha", loss.alpha, loss.alpha_values);
    l.field("weight_upper_limit", loss.weight_upper_limit,
            in_range(kMinWeightLimit, 1e9, true, true));
    l.field("weight_cumulative", loss.weight_cumulative);
    l.field("weight_counts", loss.weight_counts,
            one_of({"domain", "all_domains"}, "loss.weight_counts"));
    l.field("weighted", loss.weighted);
  });
  v.object("scheduler", [&](auto& s) {
    SchedulerConfig& sched = c.scheduler;
    s.field("name", sched.name, one_of(names.schedulers, "scheduler"));
    s.field("warmup_epochs", sched.warmup_epochs, between(0, kMaxEpochs));
    s.field("per_domain", sched.per_domain);
    s.field("step_size", sched.step_size, between(1, kMaxEpochs));
    s.field("gamma", sched.gamma, in_range(0.0, 1e3, false, true));
    s.field("min_lr", sched.min_lr, in_range(0.0, 1e3, true, true));
    s.field("T_max", sched.T_max, between(0, kMaxEpochs));
    s.field("start_factor", sched.start_factor, in_range(0.0, 1.0, false, true));
    s.field("end_factor", sched.end_factor, in_range(0.0, 1.0, true, true));
    s.field("total_iters", sched.total_iters, between(0, kMaxEpochs));
  });
  v.field("epochs_per_domain", c.epochs_per_domain, between(1, kMaxEpochs));
  v.object("replay", [&](auto& r) {
    r.field("enabled", c.replay.enabled);
    r.field("capacity", c.replay.capacity, between(0, kMaxSamples));
    r.field("policy", c.replay.policy, one_of(names.replay_policies, "replay policy"));
    // The predecessor's replay (no mode, no ratio) is its separate memory batch; a config that
    // gives moedil's ratio without a mode keeps the mixing it had. has() is true for every key
    // when writing: nothing changes then.
    if (!r.has("mode")) c.replay.mode = r.has("ratio") ? "mixed" : "separate";
    r.field("mode", c.replay.mode, one_of({"separate", "mixed"}, "replay.mode"));
    r.field("ratio", c.replay.ratio, in_range(0.0, 1.0, true, true));
  });
  v.names_or_list("strategy", c.strategy.names, names.strategies, "strategy");
  v.object("ewc", [&](auto& e) {
    e.field("lambda", c.strategy.ewc_lambda, in_range(0.0, 1e12, true, true));
    e.field("gamma", c.strategy.ewc_gamma, in_range(0.0, 1.0, true, true));
  });
  v.object("lwf", [&](auto& l) {
    l.field("alpha", c.strategy.lwf_alpha, in_range(0.0, 1e6, true, true));
    l.field("temperature", c.strategy.lwf_temperature, in_range(1e-3, 1e3, true, true));
  });
  v.object("der", [&](auto& d) {
    d.field("alpha", c.strategy.der_alpha, in_range(0.0, 1e6, true, true));
    d.field("beta", c.strategy.der_beta, in_range(0.0, 1e6, true, true));
  });
  v.object("pretrain", [&](auto& p) {
    p.field("enabled", c.pretrain.enabled);
    p.field("num_samples", c.pretrain.num_samples, between(0, kMaxSamples));
    p.field("with_replacement", c.pretrain.with_replacement);
    p.field("draw", c.pretrain.draw, one_of({"dataset", "class_balanced"}, "pretrain.draw"));
    p.field("epochs", c.pretrain.epochs, between(0, kMaxEpochs));
  });
  v.object("pretrain_scheduler", [&](auto& p) {
    p.field("name", c.pretrain.scheduler, one_of({"none", "linear"}, "pretrain_scheduler"));
    // torch LinearLR's ranges.
    p.field("start_factor", c.pretrain.start_factor, in_range(0.0, 1.0, false, true));
    p.field("end_factor", c.pretrain.end_factor, in_range(0.0, 1.0, true, true));
    p.field("total_iters", c.pretrain.total_iters, between(0, kMaxEpochs));
  });
  v.object("baseline", [&](auto& b) {
    b.field("enabled", c.baseline.enabled);
    b.field("epochs", c.baseline.epochs, between(0, kMaxEpochs));
    b.weight_or_null("expert_lr_multiplier", c.baseline.expert_lr_multiplier, 1e6);
    b.field("accuracies", c.baseline.accuracies,
            Check<std::vector<double>>([](const std::vector<double>& a) -> std::string {
              for (double x : a) {
                if (!(x >= 0.0 && x <= 1.0)) {
                  return "accuracies are fractions in [0, 1], got " + json(x).dump();
                }
              }
              return "";
            }));
  });
  v.field("router_balancing", c.router_balancing);
  v.field("router_balance_strength", c.router_balance_strength,
          in_range(0.0, 1e6, true, true));
  v.field("router_balance_anneal_epochs", c.router_balance_anneal_epochs,
          between(0, kMaxEpochs));
  v.weight_or_null("router_balance_max", c.router_balance_max, 1e6);
  v.field("router_balance_min", c.router_balance_min, in_range(0.0, 1e6, true, true));
  v.field("router_balance_schedule", c.router_balance_schedule,
          one_of({"cosine", "linear_per_domain"}, "router_balance_schedule"));
  v.count_or_null("router_freeze_after_epochs", c.router_freeze_after_epochs, kMaxEpochs);
  v.alias_count_or_null("router_freeze_after_batches", "router_freeze_after_epochs",
                        c.router_freeze_after_epochs, kMaxEpochs);
  v.field("router_freeze_per_domain_after_epochs", c.router_freeze_per_domain_after_epochs,
          between(0, kMaxEpochs));
  v.field("router_lr_multiplier", c.router_lr_multiplier, in_range(0.0, 1e6, true, true));
  v.field("backbone_lr_multiplier", c.backbone_lr_multiplier, in_range(0.0, 1e6, true, true));
  v.field("moe_expert_lr_multiplier", c.moe_expert_lr_multiplier,
          in_range(0.0, 1e6, true, true));
  v.count_or_null("router_lr_multiplier_after_epochs", c.router_lr_multiplier_after_epochs,
                  kMaxEpochs);
  v.alias_count_or_null("router_lr_multiplier_after_batches", "router_lr_multiplier_after_epochs",
                        c.router_lr_multiplier_after_epochs, kMaxEpochs);
  v.object("expert_merging", [&](auto& m) {
    m.field("enabled", c.expert_merging.enabled);
    m.field("every_steps", c.expert_merging.every_steps, between(1, kMaxSteps));
  });
  v.object("seeds", [&](auto& s) {
    SeedsConfig& seeds = c.seeds;
    s.field("zero_is_a_seed", seeds.zero_is_a_seed);
    s.seed("global", seeds.global, seeds, nullptr);
    for (auto [key, seed] :
         {std::pair{"dataset", &seeds.dataset}, std::pair{"partition", &seeds.partition},
          std::pair{"loader", &seeds.loader}, std::pair{"model", &seeds.model},
          std::pair{"training", &seeds.training}, std::pair{"pretrain", &seeds.pretrain},
          std::pair{"baseline", &seeds.baseline}, std::pair{"replay", &seeds.replay}}) {
      if (!s.has(key)) *seed = seeds.global;
      s.seed(key, *seed, seeds, &seeds.global);
    }
  });
  v.field("device", c.device, Check<std::string>([](const std::string& d) -> std::string {
            // auto, cpu, cuda or cuda:N (N up to 4 digits).
            const std::string_view cuda = "cuda:";
            const bool indexed = d.size() > cuda.size() && d.size() <= cuda.size() + 4 &&
                                 d.compare(0, cuda.size(), cuda) == 0 &&
                                 std::all_of(d.begin() + cuda.size(), d.end(), [](char ch) {
                                   return ch >= '0' && ch <= '9';
                                 });
            if (d == "auto" || d == "cpu" || d == "cuda" || indexed) return "";
            return "unknown device '" + excerpt(d) + "': expected auto, cpu, cuda or cuda:N";
          }));
  v.field("amp", c.amp, one_of({"none", "bf16"}, "amp"));
  v.field("num_threads", c.num_threads, between(0, kMaxThreads));
  v.field("num_workers", c.num_workers, between(0, kMaxThreads));
  v.field("weights_dir", c.weights_dir);
  v.field("results_dir", c.results_dir);
  v.field("log_dir", c.log_dir);
  v.object("notify", [&](auto& n) {
    n.field("webhook_url", c.notify.webhook_url, Check<std::string>([](const std::string& url) {
              const bool web = url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
              return url.empty() || web ? std::string()
                                        : std::string("expected an http:// or https:// URL, "
                                                      "or \"\" for no notification");
            }));
    n.names_or_list("on", c.notify.on, {"completed", "failed", "interrupted"}, "outcome");
  });
  v.names_or_list("loggers", c.loggers, {"csv", "tensorboard"}, "logger");
}

/// Problems that involve more than one key.
void check_consistency(const RunConfig& c, std::vector<ConfigIssue>& issues) {
  auto issue = [&](std::string path, std::string message) {
    issues.push_back({std::move(path), 0, std::move(message)});
  };
  if (std::find(c.loggers.begin(), c.loggers.end(), "csv") == c.loggers.end()) {
    issue("loggers",
          "every run writes metrics.csv (resume keeps it in step with the checkpoint), so "
          "\"csv\" stays in the list: e.g. [\"csv\", \"tensorboard\"]");
  }
  if (c.partition.type != "domainIncremental") {
    if (!c.settings.empty()) {
      issue("settings", "selects domains of a dataset with domains; it needs partition.type "
                        "'domainIncremental' (here '" + c.partition.type + "')");
    }
    if (!c.test_settings.empty()) {
      issue("test_settings", "holds out domains of a dataset with domains; it needs "
                             "partition.type 'domainIncremental' (here '" + c.partition.type + "')");
    }
  }
  if (c.partition.type == "noise") {
    for (double level : c.partition.levels) {
      if (!(level >= 0.0)) issue("partition.levels", "noise levels must be >= 0");
    }
    if (c.partition.levels.empty()) {
      issue("partition.levels", "noise needs at least one level");
    } else if (static_cast<std::size_t>(c.num_partitions) != c.partition.levels.size()) {
      issue("num_partitions", "is " + std::to_string(c.num_partitions) +
                                  " but partition.levels lists " +
                                  std::to_string(c.partition.levels.size()) +
                                  " levels (noise makes one domain per level)");
    }
  }
  if (c.partition.type == "rotate") {
    if (c.partition.angles.empty()) {
      issue("partition.angles", "rotate needs at least one angle");
    } else if (static_cast<std::size_t>(c.num_partitions) != c.partition.angles.size()) {
      issue("num_partitions", "is " + std::to_string(c.num_partitions) +
                                  " but partition.angles lists " +
                                  std::to_string(c.partition.angles.size()) +
                                  " angles (rotate makes one domain per angle)");
    }
  }
  if (c.dataset_split == "train" && c.test_split == "dataset") {
    issue("dataset_split", "'train' reads no test set of the dataset's own, which test_split "
                           "'dataset' tests on: use test_split 'partition'");
  }
  const SchedulerConfig& s = c.scheduler;
  if (s.T_max != 0 && s.name != "cosine_annealing") {
    issue("scheduler.T_max", "is read by scheduler cosine_annealing only (the predecessor's "
                             "cosine with T_max), not by '" + s.name + "'");
  }
  const SchedulerConfig defaults;
  if (s.name != "linear_lr" &&
      (s.start_factor != defaults.start_factor || s.end_factor != defaults.end_factor ||
       s.total_iters != defaults.total_iters)) {
    issue("scheduler", "start_factor, end_factor and total_iters are read by scheduler "
                       "linear_lr only (torch's LinearLR, the predecessor's linear), not by '" +
                           s.name + "'");
  }
  const int64_t schedule_epochs =
      s.per_domain ? c.epochs_per_domain : c.epochs_per_domain * c.num_partitions;
  if (s.warmup_epochs > 0 && s.warmup_epochs >= schedule_epochs && s.name != "none") {
    issue("scheduler.warmup_epochs",
          std::to_string(s.warmup_epochs) + " warm-up epochs leave nothing of the " +
              std::to_string(schedule_epochs) + "-epoch schedule (" +
              (s.per_domain ? "epochs_per_domain" : "epochs_per_domain x num_partitions") + ")");
  } else if (s.warmup_epochs > schedule_epochs) {
    issue("scheduler.warmup_epochs", std::to_string(s.warmup_epochs) +
                                         " warm-up epochs are longer than the " +
                                         std::to_string(schedule_epochs) + "-epoch schedule");
  }
  if (c.baseline.enabled && c.baseline.epochs == 0) {
    issue("baseline.epochs", "baseline is enabled with 0 epochs: set baseline.epochs >= 1");
  }
  if (c.pretrain.enabled && c.pretrain.epochs == 0) {
    issue("pretrain.epochs", "pretrain is enabled with 0 epochs: set pretrain.epochs >= 1");
  }
  const auto uses = [&](const char* name) {
    return std::find(c.strategy.names.begin(), c.strategy.names.end(), name) !=
           c.strategy.names.end();
  };
  if (uses("der") && uses("derpp")) {
    issue("strategy", "lists both der and derpp: derpp is der plus a replayed cross-entropy, "
                      "choose one");
  }
  if (uses("joint")) {
    // Joint training is the upper bound the strategies are measured against: combined with
    // one of them (or with replay) it would be neither.
    for (const std::string& other : c.strategy.names) {
      if (other == "joint") continue;
      issue("strategy", "lists joint with " + other + ": joint trains on every domain's data "
                        "so far (the upper bound) and is run alone");
    }
    if (c.replay.enabled) {
      issue("replay.enabled", "joint already trains on every earlier domain's data: replay "
                              "would only duplicate samples; disable replay for joint");
    }
  }
  for (const char* name : {"der", "derpp", "agem"}) {
    if (!uses(name)) continue;
    if (c.replay.capacity == 0) {
      issue("replay.capacity", std::string(name) + " keeps its memory with replay.capacity "
                               "samples; 0 keeps none");
    }
    if (std::llround(c.replay.ratio * static_cast<double>(c.batch_size)) == 0) {
      issue("replay.ratio", std::string(name) + " draws round(replay.ratio * batch_size) memory "
                            "samples per step; that is 0 here");
    }
  }
  if (c.router_freeze_after_epochs >= 0 && c.router_freeze_per_domain_after_epochs > 0) {
    issue("router_freeze_per_domain_after_epochs",
          "router_freeze_after_epochs already freezes the routers for good (global epochs); "
          "choose one of the two");
  }
  if (c.replay.enabled && c.replay.capacity == 0) {
    issue("replay.capacity", "replay is enabled with capacity 0: nothing can be replayed");
  }
  if (const ModelFamily* family = find_model_family(c.model.name); family && family->check) {
    for (const ModelKeyProblem& problem : family->check(c.model)) {
      issue("model." + problem.key, problem.message);
    }
  }
}

}  // namespace

std::size_t find_key_line(const std::string& text, const std::string& path) {
  std::size_t pos = 0;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t dot = path.find('.', start);
    const std::string key =
        "\"" + path.substr(start, dot == std::string::npos ? std::string::npos : dot - start) +
        "\"";
    while (true) {
      pos = text.find(key, pos);
      if (pos == std::string::npos) return 0;
      std::size_t after = pos + key.size();
      while (after < text.size() && std::isspace(static_cast<unsigned char>(text[after]))) {
        ++after;
      }
      if (after < text.size() && text[after] == ':') break;
      pos += key.size();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + pos, '\n')) + 1;
}

std::vector<ConfigIssue> check_run_config(const json& j, const NameCatalog& catalog,
                                          const std::string& source_text, RunConfig& out) {
  std::vector<ConfigIssue> issues;
  out = RunConfig{};
  if (!j.is_object()) {
    issues.push_back({"", 0, "the config must be a JSON object { ... }, got " + describe(j)});
    return issues;
  }
  // The predecessor's names, read with their meaning (config/predecessor.h).
  json named = j;
  issues = apply_predecessor_names(named, out.notes);
  for (ConfigIssue& issue : resolve_pretrained(named, out.notes)) issues.push_back(std::move(issue));
  Reader reader(&named, "", issues);
  out.seeds.zero_is_a_seed = false;  // in a config, 0 is unseeded unless the key says otherwise
  visit(reader, out, catalog);
  reader.finish();
  if (!out.seeds.drawn.empty()) {
    std::string kinds;
    for (const auto& k : out.seeds.drawn) kinds += (kinds.empty() ? "seeds." : ", seeds.") + k;
    out.notes.push_back(kinds + ": unseeded (0, \"random\" or null, the predecessor's meaning): "
                        "each run draws a seed and records it; add seeds.zero_is_a_seed true "
                        "to use 0 as a seed");
  }
  // Written back (run.json) so that a 0 here re-reads as the seed 0.
  const SeedsConfig& s = out.seeds;
  out.seeds.zero_is_a_seed = false;
  for (int64_t seed : {s.global, s.dataset, s.partition, s.loader, s.model, s.training,
                       s.pretrain, s.baseline, s.replay}) {
    if (seed == 0) out.seeds.zero_is_a_seed = true;
  }
  check_consistency(out, issues);
  for (auto& issue : issues) {
    if (!source_text.empty()) issue.line = find_key_line(source_text, issue.path);
  }
  // In file order; problems without a line (from --set) last.
  std::stable_sort(issues.begin(), issues.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    const auto key = [](const ConfigIssue& i) { return i.line == 0 ? SIZE_MAX : i.line; };
    return key(a) < key(b);
  });
  return issues;
}

RunConfig resolve_run_config(const json& j, const NameCatalog& catalog,
                             const std::string& source_text, const std::string& source_name) {
  RunConfig config;
  const std::vector<ConfigIssue> issues = check_run_config(j, catalog, source_text, config);
  if (issues.empty()) return config;
  std::string message = source_name + ": " + std::to_string(issues.size()) + " problem" +
                        (issues.size() == 1 ? "" : "s") + " in the config:";
  for (const auto& issue : issues) {
    message += "\n  ";
    if (issue.line > 0) message += "line " + std::to_string(issue.line) + ", ";
    message += (issue.path.empty() ? "(root)" : excerpt(issue.path, 120)) + ": " + issue.message;
  }
  throw ConfigError(message);
}

json without_unread_model_keys(json stored) {
  if (!stored.is_object() || !stored.contains("model") || !stored["model"].is_object()) {
    return stored;
  }
  json& model = stored["model"];
  const json name = model.value("name", json(ModelConfig{}.name));
  const ModelFamily* family =
      name.is_string() ? find_model_family(name.get<std::string>()) : nullptr;
  if (!family) return stored;
  for (auto it = model.begin(); it != model.end();) {
    if (it.key() != "name" && !family->reads(it.key())) {
      it = model.erase(it);
    } else {
      ++it;
    }
  }
  return stored;
}

json to_json(const RunConfig& c) {
  Writer writer;
  visit(writer, const_cast<RunConfig&>(c), NameCatalog{});
  return writer.take();
}

}  // namespace moedil::config
