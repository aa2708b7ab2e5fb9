#include "moedil/report/collect.h"

#include <gtest/gtest.h>

#include "moedil/batch/metaconfig.h"
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
