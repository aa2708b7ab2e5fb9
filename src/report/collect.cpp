#include "moedil/report/collect.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "moedil/batch/metaconfig.h"
#include "moedil/batch/run_names.h"
#include "moedil/common/error.h"
#include "moedil/common/printable.h"
#include "moedil/config/jsonc.h"
#include "moedil/config/overrides.h"
#include "moedil/io/experiment_group.h"

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

// True when something (a file, a directory, a link, even a dangling or looping one) is there.
bool present(const fs::path& p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec;
}

// Every run.json under `dir` that is not a directory, sorted by path: links included, so that
// one that cannot be read (a symlink loop, a dangling link) is named as a problem by the
// reader instead of being passed over. Links to directories are not followed (no cycles).
std::vector<fs::path> find_run_files(const fs::path& dir, std::vector<std::string>& problems) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->path().filename() == "run.json" && !it->is_directory(type_ec)) {
      found.push_back(it->path());
    }
  }
  if (ec) {
    problems.push_back(printable(dir.string()) + ": the search for run.json files stopped early: " +
                       ec.message());
  }
  std::sort(found.begin(), found.end());
  return found;
}

void read_into(Collection& c, const fs::path& file) {
  try {
    c.runs.push_back(LoadedRun{file, io::read_run_record(file.string()), {}, {}});
  } catch (const Error& e) {
    c.problems.push_back(printable(e.what()));  // it may quote the file's bytes
  }
}

// Names each run's experiment group; fills c.configs (in order of first appearance) and
// c.varied_keys.
void group_runs(Collection& c) {
  std::vector<io::GroupInput> inputs;
  for (const LoadedRun& r : c.runs) inputs.push_back({r.record.run.config_name, r.record.run.config});
  const io::ExperimentGroups g = io::group_experiments(inputs);
  c.configs = g.names;
  c.varied_keys = g.varied_keys;
  for (std::size_t i = 0; i < c.runs.size(); ++i) {
    c.runs[i].group = g.names[g.group_of[i]];
    c.runs[i].varied = g.varied_values[i];
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
  std::vector<std::string> stems;  // in the metaconfig's order
  std::map<std::string, int64_t> started;
  std::map<std::pair<std::string, std::vector<std::string>>, nlohmann::json> planned;
  for (const batch::PlannedRun& run : batch::expand(meta)) {
    if (started.emplace(run.config_stem, 0).second) stems.push_back(run.config_stem);
    const fs::path file = run.run_dir / "run.json";
    if (present(file)) {
      ++started[run.config_stem];
      read_into(c, file);
      continue;
    }
    LoadedRun missing;
    missing.path = file;
    missing.record.run.id = run.key;
    missing.record.run.config_name = run.config_stem;
    missing.record.run.status = kNotStarted;
    // Its group is that of the config it will run (the file with the run's overrides).
    const auto key = std::make_pair(run.config_path, run.overrides);
    auto it = planned.find(key);
    if (it == planned.end()) it = planned.emplace(key, batch::planned_config(run)).first;
    missing.record.run.config = it->second;
    c.runs.push_back(std::move(missing));
  }
  for (const std::string& config : stems) {
    const int64_t count = started[config];
    if (count == 0) {
      c.problems.push_back("no runs of config '" + config + "' have started (" + target.string() +
                           "; run moedil batch " + target.string() + ")");
    }
  }
}

}  // namespace

Collection collect_runs(const fs::path& target) {
  if (!present(target)) {
    throw UsageError("report target '" + target.string() + "' does not exist");
  }
  Collection c;
  nlohmann::json meta;
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    c.kind = TargetKind::Directory;
    c.title = target.string();
    c.default_out = target / "report";
    const fs::path own = target / "run.json";
    if (present(own)) {
      read_into(c, own);
    } else {
      for (const fs::path& file : find_run_files(target, c.problems)) read_into(c, file);
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
  group_runs(c);
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
