#include "moedil/batch/metaconfig.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "moedil/common/ascii.h"
#include "moedil/common/error.h"
#include "moedil/common/excerpt.h"
#include "moedil/common/random.h"
#include "moedil/common/suggest.h"
#include "moedil/config/jsonc.h"

namespace moedil::batch {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string>& top_level_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k{"configs", "seeds", "unlisted_seeds", "overrides", "grid",
                               "results_dir", "log_dir", "notify"};
    // The predecessor's seed lists at the top level ("dataset": [...]).
    for (const auto& kind : seed_kinds()) k.push_back(kind);
    return k;
  }();
  return keys;
}

/// "a.b=value" assignments from a list of strings or an object {"a.b": value}.
std::vector<std::string> parse_overrides(const json& j, const std::string& where,
                                         std::vector<std::string>& problems) {
  std::vector<std::string> out;
  if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      const json& item = j[i];
      if (!item.is_string() || item.get<std::string>().find('=') == std::string::npos) {
        problems.push_back(where + "[" + std::to_string(i) +
                           "]: expected a string \"key=value\", got " + item.dump());
        continue;
      }
      out.push_back(item.get<std::string>());
    }
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) out.push_back(key + "=" + value.dump());
  } else {
    problems.push_back(where + ": expected a list of \"key=value\" strings or an object");
  }
  return out;
}

/// The most runs per config a grid may give: a typo of the order of 10^6 is refused.
constexpr std::size_t kMaxGridPoints = 10000;

/// Replaces each config by one copy per point of the grid's cartesian product (keys in the
/// document's order, which nlohmann::json keeps sorted; the last key varies fastest), the
/// point's "key=value" overrides inserted after the metaconfig's global ones (`after`) and
/// before the config's own, which stay the most specific.
void expand_grid(const json& grid, std::size_t after, std::vector<ConfigEntry>& configs,
                 std::vector<std::string>& problems) {
  if (!grid.is_object() || grid.empty()) {
    problems.push_back("grid: expected an object {\"key\": [value, ...], ...}: every "
                       "combination of the values runs");
    return;
  }
  std::vector<std::vector<std::string>> axes;
  std::size_t points = 1;
  for (const auto& [key, values] : grid.items()) {
    if (key.empty() || key.find('=') != std::string::npos) {
      problems.push_back("grid: \"" + key + "\" is not a config key");
      return;
    }
    if (!values.is_array() || values.empty()) {
      problems.push_back("grid." + key + ": expected a non-empty list of values");
      return;
    }
    std::vector<std::string> assignments;
    for (const json& v : values) assignments.push_back(key + "=" + v.dump());
    points *= assignments.size();
    if (points > kMaxGridPoints) {
      problems.push_back("grid: more than " + std::to_string(kMaxGridPoints) +
                         " combinations per config; split the sweep");
      return;
    }
    axes.push_back(std::move(assignments));
  }
  std::vector<ConfigEntry> expanded;
  for (const ConfigEntry& entry : configs) {
    const auto at = entry.overrides.begin() +
                    static_cast<std::ptrdiff_t>(std::min(after, entry.overrides.size()));
    for (std::size_t p = 0; p < points; ++p) {
      std::vector<std::string> chosen(axes.size());
      std::size_t rest = p;
      for (std::size_t a = axes.size(); a-- > 0;) {
        chosen[a] = axes[a][rest % axes[a].size()];
        rest /= axes[a].size();
      }
      ConfigEntry copy = entry;
      copy.overrides.assign(entry.overrides.begin(), at);
      copy.overrides.insert(copy.overrides.end(), chosen.begin(), chosen.end());
      copy.overrides.insert(copy.overrides.end(), at, entry.overrides.end());
      expanded.push_back(std::move(copy));
    }
  }
  configs = std::move(expanded);
}

void parse_notify(const json& n, NotifyConfig& out, std::vector<std::string>& problems) {
  if (!n.is_object()) {
    problems.push_back("notify: expected {\"webhook_url\": \"https://...\", \"on\": [...]}");
    return;
  }
  for (const auto& [key, value] : n.items()) {
    (void)value;
    if (key != "webhook_url" && key != "on") {
      problems.push_back("notify: " + unknown_name_message("key", key, {"webhook_url", "on"}));
    }
  }
  if (!n.contains("webhook_url") || !n["webhook_url"].is_string()) {
    problems.push_back("notify.webhook_url: expected the webhook's URL (a string)");
  } else {
    const std::string url = n["webhook_url"].get<std::string>();
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
      problems.push_back("notify.webhook_url: expected an http:// or https:// URL");
    } else {
      out.webhook_url = url;
    }
  }
  if (n.contains("on")) {
    const std::vector<std::string> valid{"completed", "failed", "interrupted"};
    if (!n["on"].is_array()) {
      problems.push_back("notify.on: expected a list of batch outcomes: completed, failed, "
                         "interrupted");
      return;
    }
    out.on.clear();
    for (const json& v : n["on"]) {
      const std::string name = v.is_string() ? v.get<std::string>() : v.dump();
      if (std::find(valid.begin(), valid.end(), name) == valid.end()) {
        problems.push_back("notify.on: " + unknown_name_message("outcome", name, valid));
      } else {
        out.on.push_back(name);
      }
    }
  }
}

std::string file_stem(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  return stem.empty() ? "config" : stem;
}

std::string hex8(uint64_t h) {
  static const char* digits = "0123456789abcdef";
  std::string out(8, '0');
  const uint32_t folded = static_cast<uint32_t>(h ^ (h >> 32));
  for (int i = 0; i < 8; ++i) out[7 - i] = digits[(folded >> (4 * i)) & 0xF];
  return out;
}

}  // namespace

const std::vector<std::string>& seed_kinds() {
  static const std::vector<std::string> kinds{"global",   "dataset",  "partition",
                                              "loader",   "model",    "training",
                                              "pretrain", "baseline", "replay"};
  return kinds;
}

Metaconfig parse_metaconfig(const json& j, const std::string& source,
                            std::vector<std::string>& problems) {
  Metaconfig meta;
  meta.source = source;
  meta.name = safe_name(file_stem(source));
  if (!j.is_object()) {
    problems.push_back("the metaconfig must be a JSON object");
    return meta;
  }
  for (const auto& [key, value] : j.items()) {
    (void)value;
    const auto& known = top_level_keys();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      problems.push_back(unknown_name_message("metaconfig key", key, known));
    }
  }

  std::vector<std::string> global_overrides;
  if (j.contains("overrides")) global_overrides = parse_overrides(j["overrides"], "overrides", problems);

  if (!j.contains("configs")) {
    problems.push_back("configs: missing; list the config files to run");
  } else if (!j["configs"].is_array() || j["configs"].empty()) {
    problems.push_back("configs: expected a non-empty list of config paths");
  } else {
    const json& configs = j["configs"];
    for (std::size_t i = 0; i < configs.size(); ++i) {
      const std::string where = "configs[" + std::to_string(i) + "]";
      const json& item = configs[i];
      ConfigEntry entry;
      entry.overrides = global_overrides;
      if (item.is_string()) {
        entry.path = item.get<std::string>();
      } else if (item.is_object()) {
        for (const auto& [key, value] : item.items()) {
          (void)value;
          if (key != "path" && key != "overrides") {
            problems.push_back(where + ": " +
                               unknown_name_message("key", key, {"path", "overrides"}));
          }
        }
        if (!item.contains("path") || !item["path"].is_string()) {
          problems.push_back(where + ".path: expected the config file's path (a string)");
        } else {
          entry.path = item["path"].get<std::string>();
        }
        if (item.contains("overrides")) {
          for (auto& o : parse_overrides(item["overrides"], where + ".overrides", problems)) {
            entry.overrides.push_back(std::move(o));
          }
        }
      } else {
        problems.push_back(where + ": expected a path or {\"path\": ..., \"overrides\": ...}");
        continue;
      }
      if (!item.is_string() && entry.path.empty()) continue;
      if (entry.path.empty()) {
        problems.push_back(where + ": empty path");
        continue;
      }
      meta.configs.push_back(std::move(entry));
    }
  }

  if (j.contains("grid")) expand_grid(j["grid"], global_overrides.size(), meta.configs, problems);

  // Seed lists: under "seeds" (moedil) or at the top level (the predecessor), not both for a kind.
  struct SeedList {
    std::string kind;
    std::string where;  ///< its path in messages: "seeds.model" or "model"
    const json* values;
  };
  std::vector<SeedList> lists;
  if (j.contains("seeds")) {
    if (!j["seeds"].is_object()) {
      problems.push_back("seeds: expected an object {kind: [seed per group]}");
    } else {
      for (const auto& [kind, values] : j["seeds"].items()) {
        const auto& kinds = seed_kinds();
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
          problems.push_back("seeds." + unknown_name_message("seed kind", kind, kinds));
          continue;
        }
        lists.push_back({kind, "seeds." + kind, &values});
      }
    }
  }
  for (const auto& kind : seed_kinds()) {
    if (!j.contains(kind)) continue;
    if (j.contains("seeds") && j["seeds"].is_object() && j["seeds"].contains(kind)) {
      problems.push_back(kind + ": seeds." + kind + " is listed too; list the kind once");
      continue;
    }
    lists.push_back({kind, kind, &j[kind]});
  }
  std::optional<std::size_t> length;
  std::string first_kind;
  for (const auto& [kind, where, list] : lists) {
    const json& values = *list;
    if (!values.is_array() || values.empty()) {
      problems.push_back(where + ": expected a non-empty list, one seed per group");
      continue;
    }
    std::vector<SeedValue> parsed;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const json& v = values[i];
      if (v.is_number_integer() && v.get<int64_t>() > 0) {
        parsed.emplace_back(v.get<int64_t>());
      } else if ((v.is_number_integer() && v.get<int64_t>() == 0) || v.is_null() ||
                 (v.is_string() && ascii_lower(v.get<std::string>()) == "random")) {
        parsed.emplace_back(std::nullopt);
      } else {
        problems.push_back(where + "[" + std::to_string(i) +
                           "]: expected a positive integer, or 0, \"random\" or null (unseeded), "
                           "got " + v.dump());
      }
    }
    if (!length) {
      length = values.size();
      first_kind = where;
    } else if (*length != values.size()) {
      problems.push_back(where + ": has " + std::to_string(values.size()) + " seeds but " +
                         first_kind + " has " + std::to_string(*length) +
                         "; every list needs one seed per group");
    }
    meta.seeds.emplace_back(kind, std::move(parsed));
  }
  // Keep seed_kinds() order whatever the file's order.
  std::stable_sort(meta.seeds.begin(), meta.seeds.end(), [](const auto& a, const auto& b) {
    const auto& k = seed_kinds();
    return std::find(k.begin(), k.end(), a.first) < std::find(k.begin(), k.end(), b.first);
  });
  if (length) meta.num_groups = *length;
  if (j.contains("seeds") && j["seeds"].is_object() && j["seeds"].empty()) {
    problems.push_back("seeds: empty; list at least one kind, or leave seeds out");
  }
  if (j.contains("unlisted_seeds")) {
    const json& u = j["unlisted_seeds"];
    if (u == "unseeded" || u == "config") {
      meta.unlisted_seeds = u.get<std::string>();
    } else {
      problems.push_back("unlisted_seeds: expected \"unseeded\" (the predecessor's meaning) or "
                         "\"config\" (the config's own seeds), got " + u.dump());
    }
  }

  if (j.contains("notify")) parse_notify(j["notify"], meta.notify, problems);

  for (const char* key : {"results_dir", "log_dir"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_string() || j[key].get<std::string>().empty()) {
      problems.push_back(std::string(key) + ": expected a non-empty directory path");
    } else if (std::string(key) == "results_dir") {
      meta.results_dir = j[key].get<std::string>();
    } else {
      meta.log_dir = j[key].get<std::string>();
    }
  }
  return meta;
}

std::vector<std::string> config_candidates(const std::string& written,
                                           const fs::path& configs_dir) {
  std::vector<std::string> out;
  const auto with_extensions = [&](const fs::path& p) {
    out.push_back(p.string());
    if (!p.has_extension()) {
      out.push_back(p.string() + ".jsonc");
      out.push_back(p.string() + ".json");
    }
  };
  with_extensions(written);
  if (!configs_dir.empty() && fs::path(written).is_relative()) {
    with_extensions(configs_dir / written);
  }
  return out;
}

Metaconfig load_metaconfig(const fs::path& path, const ConfigCheck& check,
                           const fs::path& configs_dir) {
  if (invalid_utf8_offset(path.string()) != std::string::npos) {
    throw ConfigError("metaconfig file name '" + excerpt(path.string(), 400) +
                      "' is not valid UTF-8: rename the file (its name is stored as text)");
  }
  std::ifstream in(path);
  if (!in) throw ConfigError("metaconfig file '" + path.string() + "' does not exist or cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const json j = config::parse_jsonc(buffer.str(), path.string());
  std::vector<std::string> problems;
  Metaconfig meta = parse_metaconfig(j, path.string(), problems);
  for (ConfigEntry& entry : meta.configs) {
    const std::vector<std::string> tried = config_candidates(entry.path, configs_dir);
    std::error_code ec;
    const auto found = std::find_if(tried.begin(), tried.end(), [&](const std::string& p) {
      return fs::is_regular_file(p, ec);
    });
    if (found == tried.end()) {
      std::string message = "configs: config file '" + entry.path + "' does not exist";
      if (tried.size() > 1) {
        message += " (tried";
        for (std::size_t i = 0; i < tried.size(); ++i) message += (i ? ", " : " ") + tried[i];
        message += ")";
      }
      problems.push_back(message);
      continue;
    }
    entry.path = *found;
    if (check) check(entry, problems);
  }
  if (!problems.empty()) {
    std::string message = path.string() + ": " + std::to_string(problems.size()) +
                          (problems.size() == 1 ? " problem" : " problems");
    for (const auto& p : problems) message += "\n  " + p;
    throw ConfigError(message);
  }
  return meta;
}

std::vector<PlannedRun> expand(const Metaconfig& meta) {
  std::vector<PlannedRun> plan;
  for (const ConfigEntry& entry : meta.configs) {
    for (std::size_t g = 0; g < meta.num_groups; ++g) {
      PlannedRun run;
      run.index = plan.size();
      run.config_path = entry.path;
      run.config_stem = file_stem(entry.path);
      run.group = g;
      run.overrides = entry.overrides;
      json seeds_json = json::object();
      for (const auto& [kind, values] : meta.seeds) {
        run.seeds.emplace_back(kind, values[g]);
        seeds_json[kind] = values[g] ? json(*values[g]) : json("random");
      }
      // What identifies a run: the config as named, the seeds as written, the overrides.
      const json identity{{"config", fs::path(entry.path).lexically_normal().generic_string()},
                          {"seeds", seeds_json},
                          {"overrides", run.overrides}};
      if (!meta.seeds.empty() && meta.unlisted_seeds == "unseeded") {
        // After the identity: run keys name the seeds as written.
        for (const auto& kind : seed_kinds()) {
          const bool listed = std::any_of(meta.seeds.begin(), meta.seeds.end(),
                                          [&](const auto& s) { return s.first == kind; });
          if (listed) continue;
          if (kind == "global") {
            run.seeds.insert(run.seeds.begin(), {kind, std::nullopt});
          } else {
            run.follow_global.push_back(kind);
          }
        }
      }
      const std::string stem = safe_name(run.config_stem);
      run.key = stem + "-g" + std::to_string(g) + "-" + hex8(fnv1a64(identity.dump()));
      const std::string results = meta.results_dir ? *meta.results_dir : entry.results_dir;
      run.run_dir = fs::path(results) / stem / run.key;
      plan.push_back(std::move(run));
    }
  }
  return plan;
}

std::vector<std::string> seed_overrides(const PlannedRun& run,
                                        const std::function<int64_t()>& draw) {
  std::vector<std::string> out;
  for (const auto& [kind, value] : run.seeds) {
    out.push_back("seeds." + kind + "=" + std::to_string(value ? *value : draw()));
  }
  for (const auto& kind : run.follow_global) out.push_back("seeds." + kind + "=null");
  return out;
}

int64_t draw_seed() { return entropy_seed(); }

std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace moedil::batch
