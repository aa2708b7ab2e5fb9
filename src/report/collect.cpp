#include "moedil/report/collect.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "moedil/batch/metaconfig.h"
#include "moedil/common/error.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/overrides.h"

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

// The results_dir a config's runs go to when the metaconfig sets none: the config's own
// (after the entry's overrides), read without validating the rest; "results" by default.
void read_config_results_dir(batch::ConfigEntry& entry, std::vector<std::string>& problems) {
  try {
    nlohmann::json j = config::parse_jsonc(read_text(entry.path), entry.path);
    for (const auto& assignment : entry.overrides) config::apply_override(j, assignment);
    if (j.is_object() && j.contains("results_dir") && j["results_dir"].is_string()) {
      entry.results_dir = j["results_dir"].get<std::string>();
    }
  } catch (const Error& e) {
    problems.push_back(e.what());
  }
}

// The runs a batch of this metaconfig plans (same keys and directories as `moedil batch`):
// each started one is read, each not started is listed with status "not started", and a config
// none of whose runs has started is a problem.
void collect_planned_runs(Collection& c, const fs::path& target) {
  const batch::Metaconfig meta = batch::load_metaconfig(target, read_config_results_dir);
  c.kind = TargetKind::Metaconfig;
  c.title = "metaconfig " + target.string();
  c.default_out = fs::path(meta.results_dir.value_or("results")) / ("report-" + meta.name);
  std::map<std::string, int64_t> started;
  for (const batch::PlannedRun& run : batch::expand(meta)) {
    if (std::find(c.configs.begin(), c.configs.end(), run.config_stem) == c.configs.end()) {
      c.configs.push_back(run.config_stem);
    }
    started[run.config_stem] += 0;
    const fs::path file = run.run_dir / "run.json";
    if (fs::exists(file)) {
      ++started[run.config_stem];
      read_into(c, file);
      continue;
    }
    LoadedRun missing;
    missing.path = file;
    missing.record.run.id = run.key;
    missing.record.run.config_name = run.config_stem;
    missing.record.run.status = kNotStarted;
    c.runs.push_back(std::move(missing));
  }
  for (const auto& [config, count] : started) {
    if (count == 0) {
      c.problems.push_back("no runs of config '" + config + "' have started (" + target.string() +
                           "; run moedil batch " + target.string() + ")");
    }
  }
}

}  // namespace

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
    collect_planned_runs(c, target);
  } else {
    c.kind = TargetKind::RunFile;
    c.title = target.string();
    const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    c.default_out = parent / "report";
    read_into(c, target);
  }
  const bool any_read = std::any_of(c.runs.begin(), c.runs.end(), [](const LoadedRun& r) {
    return r.record.run.status != kNotStarted;
  });
  if (!any_read) {
    std::string msg = target.string() + ": no readable runs";
    if (c.problems.empty()) msg += " (no run.json found)";
    for (const std::string& p : c.problems) msg += "\n  " + p;
    throw DataError(msg);
  }
  return c;
}

}  // namespace moedil::report
