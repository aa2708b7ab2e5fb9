#include "moedil/report/collect.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "moedil/common/error.h"
#include "moedil/config/jsonc.h"

namespace moedil::report {
namespace fs = std::filesystem;
namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot be opened");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// True when `path` holds a metaconfig: a .jsonc file, or a JSON object with a "configs" list
// and no "schema_version" (a run.json has one).
bool is_metaconfig(const fs::path& path, nlohmann::json* parsed) {
  if (path.filename() == "run.json") return false;
  std::string text;
  try {
    text = read_text(path);
    *parsed = config::parse_jsonc(text, path.string());
  } catch (const Error&) {
    if (path.extension() == ".jsonc") throw;
    return false;  // let the run reader name the file and the problem
  }
  if (path.extension() == ".jsonc") return true;
  return parsed->is_object() && parsed->contains("configs") && !parsed->contains("schema_version");
}

// Every run.json under `dir`, sorted by path.
std::vector<fs::path> find_run_files(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       it != end; it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file() && it->path().filename() == "run.json") found.push_back(it->path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

void read_into(Collection& c, const fs::path& file) {
  try {
    LoadedRun run{file, io::read_run_record(file.string())};
    const std::string& name = run.record.run.config_name;
    if (std::find(c.configs.begin(), c.configs.end(), name) == c.configs.end()) {
      c.configs.push_back(name);
    }
    c.runs.push_back(std::move(run));
  } catch (const Error& e) {
    c.problems.push_back(e.what());
  }
}

fs::path resolve_relative(const fs::path& base, const std::string& p) {
  const fs::path path(p);
  if (path.is_absolute()) return path;
  if (fs::exists(base / path)) return base / path;
  return path;
}

}  // namespace

fs::path config_results_dir(const fs::path& metaconfig_dir, const std::string& results_dir,
                            const std::string& config_path) {
  return resolve_relative(metaconfig_dir, results_dir) / fs::path(config_path).stem();
}

Collection collect_runs(const fs::path& target) {
  if (!fs::exists(target)) {
    throw UsageError("report target '" + target.string() + "' does not exist");
  }
  Collection c;
  nlohmann::json meta;
  if (fs::is_directory(target)) {
    c.kind = TargetKind::Directory;
    c.title = target.string();
    c.default_out = target / "report";
    const fs::path own = target / "run.json";
    if (fs::exists(own)) {
      read_into(c, own);
    } else {
      for (const fs::path& file : find_run_files(target)) read_into(c, file);
    }
  } else if (is_metaconfig(target, &meta)) {
    c.kind = TargetKind::Metaconfig;
    c.title = "metaconfig " + target.string();
    if (!meta.is_object() || !meta.contains("configs") || !meta["configs"].is_array()) {
      throw ConfigError(target.string() + ": a metaconfig needs a \"configs\" list of config paths");
    }
    std::string results_dir = "results";
    if (meta.contains("results_dir")) {
      if (!meta["results_dir"].is_string()) {
        throw ConfigError(target.string() + ": results_dir must be a string");
      }
      results_dir = meta["results_dir"].get<std::string>();
    }
    const fs::path base = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    c.default_out = resolve_relative(base, results_dir) / ("report-" + target.stem().string());
    for (const auto& entry : meta["configs"]) {
      if (!entry.is_string()) {
        throw ConfigError(target.string() + ": every entry of \"configs\" must be a path string");
      }
      const std::string config_path = entry.get<std::string>();
      const std::string name = fs::path(config_path).stem().string();
      if (std::find(c.configs.begin(), c.configs.end(), name) == c.configs.end()) {
        c.configs.push_back(name);
      }
      const fs::path dir = config_results_dir(base, results_dir, config_path);
      const std::size_t before = c.runs.size() + c.problems.size();
      if (fs::is_directory(dir)) {
        for (const fs::path& file : find_run_files(dir)) read_into(c, file);
      }
      if (c.runs.size() + c.problems.size() == before) {
        c.problems.push_back(dir.string() + ": no runs of config '" + config_path + "' (from " +
                             target.string() + ")");
      }
    }
  } else {
    c.kind = TargetKind::RunFile;
    c.title = target.string();
    const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    c.default_out = parent / "report";
    read_into(c, target);
  }
  if (c.runs.empty()) {
    std::string msg = target.string() + ": no readable runs";
    if (c.problems.empty()) msg += " (no run.json found)";
    for (const std::string& p : c.problems) msg += "\n  " + p;
    throw DataError(msg);
  }
  return c;
}

}  // namespace moedil::report
