#include "moedil/io/experiment_group.h"

#include <algorithm>
#include <set>

namespace moedil::io {
namespace {

using json = nlohmann::json;

// Deeper values are not walked (a resolved config is a few levels deep; a hand-edited
// run.json could nest without end).
constexpr int kMaxDepth = 32;
constexpr const char* kAbsent = "(absent)";

std::string value_text(const json& v) {
  if (!v.is_string()) return v.dump();
  const std::string& s = v.get_ref<const std::string&>();
  bool reads_as_other = s.empty() || s.front() == '(';
  if (!reads_as_other) {
    const json parsed = json::parse(s, nullptr, /*allow_exceptions=*/false);
    reads_as_other = !parsed.is_discarded();
  }
  return reads_as_other ? v.dump() : s;
}

void flatten(const json& v, const std::string& key, int depth,
             std::map<std::string, std::string>& out) {
  if (v.is_object() && !v.empty()) {
    if (depth >= kMaxDepth) {
      out[key] = "(nested too deep)";
      return;
    }
    for (const auto& [k, child] : v.items()) flatten(child, key + "." + k, depth + 1, out);
    return;
  }
  if (v.is_array() && depth >= kMaxDepth) {
    out[key] = "(nested too deep)";
    return;
  }
  out[key] = value_text(v);
}

}  // namespace

const std::vector<std::string>& placement_keys() {
  static const std::vector<std::string> keys = {
      "seeds",   "device",       "num_threads", "results_dir", "log_dir",
      "dataset_root", "cache_dir", "notify",     "loggers"};
  return keys;
}

std::map<std::string, std::string> experiment_settings(const json& resolved_config) {
  std::map<std::string, std::string> out;
  if (!resolved_config.is_object()) return out;
  const auto& skip = placement_keys();
  for (const auto& [key, value] : resolved_config.items()) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    flatten(value, key, 1, out);
  }
  return out;
}

ExperimentGroups group_experiments(const std::vector<GroupInput>& runs) {
  using Settings = std::map<std::string, std::string>;
  std::vector<Settings> settings;
  std::vector<bool> known;
  for (const GroupInput& r : runs) {
    known.push_back(!r.config.is_null());
    settings.push_back(experiment_settings(r.config));
  }
  // Per config name: the keys with more than one value among its known runs that have them.
  // A key a run lacks (its run.json was written before the key existed) does not set it apart.
  std::map<std::string, std::set<std::string>> varied_by_name;
  {
    std::map<std::string, std::map<std::string, std::set<std::string>>> values;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (!known[i]) continue;
      auto& by_key = values[runs[i].config_name];
      for (const auto& [key, value] : settings[i]) by_key[key].insert(value);
    }
    for (const auto& [name, by_key] : values) {
      std::set<std::string>& varied = varied_by_name[name];
      for (const auto& [key, distinct] : by_key) {
        if (distinct.size() > 1) varied.insert(key);
      }
    }
  }

  ExperimentGroups g;
  std::set<std::string> all_varied;
  for (const auto& [name, keys] : varied_by_name) all_varied.insert(keys.begin(), keys.end());
  g.varied_keys.assign(all_varied.begin(), all_varied.end());

  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    // The name lists the run's value of each key that varies within its config name; the
    // texts are unambiguous, so equal names mean equal settings (for runs with a config).
    std::string name = runs[i].config_name;
    const auto it = varied_by_name.find(runs[i].config_name);
    if (known[i] && it != varied_by_name.end() && !it->second.empty()) {
      std::string sep = "[";
      for (const std::string& key : it->second) {
        const auto v = settings[i].find(key);
        name += sep + key + "=" + (v == settings[i].end() ? std::string(kAbsent) : v->second);
        sep = ",";
      }
      name += "]";
    }
    const auto [pos, inserted] = index_of.emplace(name, g.names.size());
    if (inserted) g.names.push_back(name);
    g.group_of.push_back(pos->second);

    std::vector<std::string> values;
    for (const std::string& key : g.varied_keys) {
      const auto v = settings[i].find(key);
      values.push_back(v == settings[i].end() ? std::string() : v->second);
    }
    g.varied_values.push_back(std::move(values));
  }
  return g;
}

}  // namespace moedil::io
