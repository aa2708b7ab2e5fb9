#include "moedil/report/collect.h"

#include <gtest/gtest.h>

#include <map>

#include "moedil/batch/metaconfig.h"
#include "moedil/batch/run_names.h"
#include "moedil/common/error.h"
#include "records.h"

namespace moedil::report {
namespace {

using testing::make_record;
using testing::TempDir;
using testing::write_run;
using testing::write_text;
namespace fs = std::filesystem;

bool mentions(const std::vector<std::string>& problems, const std::string& needle) {
  for (const auto& p : problems)
    if (p.find(needle) != std::string::npos) return true;
  return false;
}

TEST(ReportCollect, RunFileAndRunDir) {
  TempDir tmp;
  const fs::path file = write_run(tmp.path() / "results" / "A", make_record("r1", "A"));
  for (const fs::path& target : {file, file.parent_path()}) {
    const Collection c = collect_runs(target);
    ASSERT_EQ(c.runs.size(), 1u);
    EXPECT_EQ(c.runs[0].record.run.id, "r1");
    EXPECT_EQ(c.configs, (std::vector<std::string>{"A"}));
    EXPECT_EQ(c.default_out, file.parent_path() / "report");
  }
}

TEST(ReportCollect, ResultsDirFindsAllRunsAndKeepsGoingPastBadOnes) {
  TempDir tmp;
  const fs::path results = tmp.path() / "results";
  write_run(results / "B", make_record("b1", "B"));
  write_run(results / "A", make_record("a1", "A"));
  write_run(results / "A", make_record("a2", "A", "failed"));
  const std::string good = io::to_json(make_record("a3", "A")).dump();
  write_text(results / "A" / "trunc" / "run.json", good.substr(0, good.size() / 2));
  nlohmann::json future = io::to_json(make_record("a4", "A"));
  future["schema_version"] = 99;
  write_text(results / "A" / "future" / "run.json", future.dump());
  const Collection c = collect_runs(results);
  EXPECT_EQ(c.runs.size(), 3u);
  EXPECT_EQ(c.configs, (std::vector<std::string>{"A", "B"}));
  ASSERT_EQ(c.problems.size(), 2u);
  EXPECT_TRUE(mentions(c.problems, (results / "A" / "trunc" / "run.json").string()));
  EXPECT_TRUE(mentions(c.problems, (results / "A" / "future" / "run.json").string()));
  EXPECT_TRUE(mentions(c.problems, "99"));
  EXPECT_EQ(c.default_out, results / "report");
  // one config's dir
  EXPECT_EQ(collect_runs(results / "B").runs.size(), 1u);
}

TEST(ReportCollect, BadSingleRunIsADataErrorNamingTheFile) {
  TempDir tmp;
  const fs::path file = tmp.path() / "run.json";
  write_text(file, "{\"schema_version\": 1, \"run\": {");
  try {
    collect_runs(file);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(ReportCollect, NothingThereIsAnError) {
  TempDir tmp;
  EXPECT_THROW(collect_runs(tmp.path() / "missing"), UsageError);
  fs::create_directories(tmp.path() / "empty");
  try {
    collect_runs(tmp.path() / "empty");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no run.json found"), std::string::npos) << e.what();
  }
}

TEST(ReportCollect, MetaconfigReadsThePlannedRunsAndListsTheOnesNotStarted) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  for (const char* name : {"first", "second", "none"}) {
    write_text(tmp.path() / "configs" / (std::string(name) + ".jsonc"), "{}");
  }
  const fs::path meta = tmp.path() / "meta.jsonc";
  const std::string configs = (tmp.path() / "configs").string();
  write_text(meta, "{\n  // comment\n  \"configs\": [\"" + configs + "/second.jsonc\", \"" +
                       configs + "/first.jsonc\", \"" + configs + "/none.jsonc\"],\n" +
                       "  \"results_dir\": \"" + out.string() + "\",\n" +
                       "  \"seeds\": {\"global\": [1, 2]},\n}\n");
  // The batch's plan: 3 configs x 2 seed groups. Runs exist for both groups of "first" and
  // one of "second"; "none" never started; a run of "first" outside the plan is ignored.
  const std::vector<batch::PlannedRun> plan = batch::expand(batch::load_metaconfig(meta));
  ASSERT_EQ(plan.size(), 6u);
  int written = 0;
  for (const batch::PlannedRun& run : plan) {
    if (run.config_stem == "first" || (run.config_stem == "second" && run.group == 0)) {
      io::RunRecord r = make_record(run.key, run.config_stem);
      r.run.config = batch::planned_config(run);  // what `moedil run` stores
      const fs::path file = run.run_dir / "run.json";
      fs::create_directories(run.run_dir);
      write_text(file, io::to_json(r).dump());
      ++written;
    }
  }
  ASSERT_EQ(written, 3);
  write_run(out / "first", make_record("unplanned", "first"));

  const Collection c = collect_runs(meta);
  EXPECT_EQ(c.kind, TargetKind::Metaconfig);
  EXPECT_EQ(c.configs, (std::vector<std::string>{"second", "first", "none"}));
  ASSERT_EQ(c.runs.size(), 6u);
  int not_started = 0;
  for (const LoadedRun& r : c.runs) {
    EXPECT_NE(r.record.run.id, "unplanned");
    if (r.record.run.status == kNotStarted) ++not_started;
  }
  EXPECT_EQ(not_started, 3);  // second g1, none g0, none g1
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_TRUE(mentions(c.problems, "no runs of config 'none'"));
  EXPECT_EQ(c.default_out, out / "report-meta");
}

/// A run of config `name` as run.json stores it: the resolved config with model.moe_top_k
/// and replay.enabled, and placement keys that differ between seed groups.
io::RunRecord run_of(const std::string& id, const std::string& name, int top_k, bool replay,
                     int seed) {
  io::RunRecord r = make_record(id, name, "completed", 0.0, seed);
  r.run.config = {{"dataset", "synthetic"},
                  {"model", {{"name", "vit_moe"}, {"moe_top_k", top_k}}},
                  {"replay", {{"enabled", replay}}},
                  {"seeds", {{"global", seed}}},
                  {"device", seed == 1 ? "cpu" : "cuda:0"},
                  {"num_threads", seed}};
  return r;
}

TEST(ReportCollect, RunsAreGroupedByTheirEffectiveConfiguration) {
  TempDir tmp;
  const fs::path results = tmp.path() / "results";
  // A metaconfig listing quickstart with model.moe_top_k 1 and 2, seeds 1 and 2: four runs
  // of one config file, two experiments.
  write_run(results / "quickstart", run_of("q1", "quickstart", 1, false, 1));
  write_run(results / "quickstart", run_of("q2", "quickstart", 2, false, 1));
  write_run(results / "quickstart", run_of("q3", "quickstart", 1, false, 2));
  write_run(results / "quickstart", run_of("q4", "quickstart", 2, false, 2));
  // Fine-tune and replay runs of one file.
  write_run(results / "rot", run_of("r1", "rot", 1, false, 1));
  write_run(results / "rot", run_of("r2", "rot", 1, true, 1));
  // One experiment over seeds (and devices) keeps its plain name.
  write_run(results / "single", run_of("s1", "single", 1, false, 1));
  write_run(results / "single", run_of("s2", "single", 1, false, 2));
  const Collection c = collect_runs(results);
  EXPECT_EQ(c.configs,
            (std::vector<std::string>{"quickstart[model.moe_top_k=1]",
                                      "quickstart[model.moe_top_k=2]", "rot[replay.enabled=false]",
                                      "rot[replay.enabled=true]", "single"}));
  EXPECT_EQ(c.varied_keys, (std::vector<std::string>{"model.moe_top_k", "replay.enabled"}));
  std::map<std::string, int> n;
  for (const LoadedRun& r : c.runs) ++n[r.group];
  EXPECT_EQ(n["quickstart[model.moe_top_k=1]"], 2);
  EXPECT_EQ(n["quickstart[model.moe_top_k=2]"], 2);
  EXPECT_EQ(n["rot[replay.enabled=false]"], 1);
  EXPECT_EQ(n["rot[replay.enabled=true]"], 1);
  EXPECT_EQ(n["single"], 2);
  EXPECT_EQ(c.runs[1].record.run.id, "q2");
  EXPECT_EQ(c.runs[1].varied, (std::vector<std::string>{"2", "false"}));
}

TEST(ReportCollect, AMetaconfigsRunsNotStartedJoinTheGroupOfTheirPlannedConfig) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  write_text(tmp.path() / "quickstart.jsonc", "{\"dataset\": \"synthetic\"}");
  const fs::path meta = tmp.path() / "meta.jsonc";
  const std::string config = (tmp.path() / "quickstart.jsonc").string();
  write_text(meta, "{\"configs\": [{\"path\": \"" + config +
                       "\", \"overrides\": {\"model.moe_top_k\": 1}}, {\"path\": \"" + config +
                       "\", \"overrides\": {\"model.moe_top_k\": 2}}],"
                       " \"results_dir\": \"" + out.string() + "\", \"seeds\": {\"global\": [1, 2]}}");
  const std::vector<batch::PlannedRun> plan = batch::expand(batch::load_metaconfig(meta));
  ASSERT_EQ(plan.size(), 4u);
  // Only the first run of each top_k has finished; its run.json holds the resolved config.
  for (std::size_t i : {0u, 2u}) {
    io::RunRecord r = make_record(plan[i].key, "quickstart");
    r.run.config = batch::planned_config(plan[i]);
    fs::create_directories(plan[i].run_dir);
    write_text(plan[i].run_dir / "run.json", io::to_json(r).dump());
  }
  const Collection c = collect_runs(meta);
  EXPECT_EQ(c.configs, (std::vector<std::string>{"quickstart[model.moe_top_k=1]",
                                                 "quickstart[model.moe_top_k=2]"}));
  ASSERT_EQ(c.runs.size(), 4u);
  EXPECT_EQ(c.runs[1].record.run.status, kNotStarted);
  EXPECT_EQ(c.runs[1].group, "quickstart[model.moe_top_k=1]");
  EXPECT_EQ(c.runs[3].group, "quickstart[model.moe_top_k=2]");
}

TEST(ReportCollect, ASymlinkLoopIsAProblemNamingItAndTheRestIsRead) {
  TempDir tmp;
  const fs::path results = tmp.path() / "results";
  write_run(results / "A", make_record("a1", "A"));
  fs::create_directories(results / "A" / "loop");
  fs::create_symlink("run.json", results / "A" / "loop" / "run.json");  // links to itself
  fs::create_directories(results / "A" / "dangling");
  fs::create_symlink("nowhere.json", results / "A" / "dangling" / "run.json");
  fs::create_directory_symlink("../..", results / "A" / "a1" / "cycle");  // a directory cycle
  const Collection c = collect_runs(results);
  ASSERT_EQ(c.runs.size(), 1u);
  EXPECT_EQ(c.runs[0].record.run.id, "a1");
  ASSERT_EQ(c.problems.size(), 2u);
  EXPECT_TRUE(mentions(c.problems, (results / "A" / "loop" / "run.json").string() +
                                       ": cannot be opened (Too many levels of symbolic links)"));
  EXPECT_TRUE(mentions(c.problems, (results / "A" / "dangling" / "run.json").string()));
  // The looping file itself as the target, and a run directory holding it: exit-2 errors
  // naming the file, not a crash.
  for (const fs::path& target : {results / "A" / "loop" / "run.json", results / "A" / "loop"}) {
    try {
      collect_runs(target);
      FAIL() << "expected DataError for " << target;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find((results / "A" / "loop" / "run.json").string()),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(ReportCollect, ProblemsQuotingTheFileCannotDriveTheTerminal) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  // A directory name with an escape sequence (clear screen) holding a broken run.json.
  write_text(tmp.path() / "A" / "bad\x1b[2J" / "run.json", "{\"schema_version\": 1,");
  const Collection c = collect_runs(tmp.path());
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].find('\x1b'), std::string::npos) << c.problems[0];
  EXPECT_NE(c.problems[0].find("bad\\x1b[2J"), std::string::npos) << c.problems[0];
}

TEST(ReportCollect, MetaconfigWithAMissingConfigFileIsAConfigError) {
  TempDir tmp;
  write_text(tmp.path() / "m.jsonc", "{\"configs\": [\"" + (tmp.path() / "gone.jsonc").string() + "\"]}");
  EXPECT_THROW(collect_runs(tmp.path() / "m.jsonc"), ConfigError);
}

TEST(ReportCollect, MetaconfigWithoutConfigsIsAConfigError) {
  TempDir tmp;
  write_text(tmp.path() / "m.jsonc", "{\"results_dir\": \"x\"}");
  EXPECT_THROW(collect_runs(tmp.path() / "m.jsonc"), ConfigError);
}

}  // namespace
}  // namespace moedil::report
