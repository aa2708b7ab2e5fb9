#include "moedil/report/report.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "chromium.h"
#include "moedil/common/error.h"
#include "moedil/report/summary.h"
#include "records.h"

namespace moedil::report {
namespace {

namespace fs = std::filesystem;
using testing::make_record;
using testing::png_size;
using testing::ScopedEnv;
using testing::TempDir;
using testing::write_run;
using testing::write_text;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

TEST(Report, ParseFormats) {
  const ReportFormats all = parse_formats("md,csv,html");
  EXPECT_TRUE(all.md && all.csv && all.html);
  const ReportFormats csv = parse_formats("csv");
  EXPECT_TRUE(csv.csv && !csv.md && !csv.html);
  EXPECT_THROW(parse_formats("pdf"), UsageError);
  EXPECT_THROW(parse_formats(""), UsageError);
}

class ReportFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    results_ = tmp_.path() / "results";
    write_run(results_ / "A", make_record("a1", "A", "completed", 0.0, 1));
    write_run(results_ / "A", make_record("a2", "A", "completed", 0.2, 2));
    write_run(results_ / "A", make_record("a3", "A", "failed", 0.0, 3));
    write_run(results_ / "B", make_record("b1", "B", "completed", 0.1, 1));
    write_text(results_ / "B" / "broken" / "run.json", "{\"schema_version\": 1, \"run\"");
    out_ = tmp_.path() / "rep";
    output_ = write_report(collect_runs(results_), out_, ReportFormats{});
  }
  TempDir tmp_;
  fs::path results_, out_;
  ReportOutput output_;
};

bool browser_available() { return find_chromium() && load_vega_runtime().ok(); }

TEST_F(ReportFiles, WritesEveryFile) {
  for (const char* f : {"report.md", "report.html", "runs.csv", "status.csv", "configs.csv",
                        "configs_side_by_side.csv", "final_domain_acc.csv", "class_metrics.csv",
                        "problems.csv"}) {
    EXPECT_TRUE(fs::exists(out_ / f)) << f;
  }
  // Every figure's Vega spec and tidy data, whatever is installed.
  for (const char* f : {"final_acc_by_config", "groups/A/accuracy", "runs/a1/r_matrix", "runs/a1/accuracy",
                        "runs/a1/confusion", "runs/a1/usage", "runs/a3/accuracy", "runs/b1/usage"}) {
    EXPECT_TRUE(fs::exists(out_ / (std::string(f) + ".vg.json"))) << f;
    EXPECT_TRUE(fs::exists(out_ / (std::string(f) + ".csv"))) << f;
    const auto spec = nlohmann::json::parse(slurp(out_ / (std::string(f) + ".vg.json")));
    EXPECT_TRUE(spec.contains("marks")) << f;
  }
  EXPECT_FALSE(fs::exists(out_ / "groups" / "B")) << "one completed run: no band over seeds";
  const std::vector<std::string> pngs{"final_acc_by_config.png", "groups/A/accuracy.png", "runs/a1/r_matrix.png",
                                      "runs/a1/accuracy.png", "runs/a1/confusion_a.png",
                                      "runs/a1/confusion_b.png", "runs/a1/usage_blocks.1.moe.png",
                                      "runs/a3/accuracy.png"};
  if (browser_available()) {
    for (const std::string& f : pngs) EXPECT_TRUE(fs::exists(out_ / f)) << f;
    EXPECT_TRUE(output_.notes.empty()) << output_.notes.front();
  } else {
    for (const std::string& f : pngs) EXPECT_FALSE(fs::exists(out_ / f)) << f;
    ASSERT_FALSE(output_.notes.empty());
    EXPECT_NE(output_.notes.front().find("not"), std::string::npos) << output_.notes.front();
  }
  std::size_t regular = 0;
  for (const auto& e : fs::recursive_directory_iterator(out_)) regular += e.is_regular_file();
  EXPECT_EQ(output_.files.size(), regular);
}

TEST_F(ReportFiles, FigureDataIsTheRunsNumbers) {
  // a1's R = [[0.8, 0.5], [0.9, 0.7]] as tidy rows, domains numbered from 1.
  const auto r = lines(slurp(out_ / "runs" / "a1" / "r_matrix.csv"));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0], "trained_domain_index,trained_domain,eval_domain_index,eval_domain,acc");
  EXPECT_EQ(r[3], "2,b,1,a,0.9");
  // A's two completed runs: a after b is 0.9 and 0.7 -> mean 0.8, std 0.1414213562.
  const auto g = lines(slurp(out_ / "groups" / "A" / "accuracy.csv"));
  EXPECT_EQ(g[0], "step,trained_domain,epoch,eval_domain,n,mean,std,lo,hi");
  EXPECT_EQ(g[3].substr(0, 32), "2,b,1,a,2,0.8,0.1414213562,0.658") << g[3];
}
TEST_F(ReportFiles, RunsCsvColumnsAndValues) {
  const auto l = lines(slurp(out_ / "runs.csv"));
  ASSERT_EQ(l.size(), 4u);  // header + 3 completed runs; the failed one is not here
  EXPECT_EQ(l[0],
            "config,run,seed,ACC,AIA,BWT,FWT,FWT_baseline,forgetting,plasticity,intransience,"
            "balanced_acc");
  // a1: R = [[0.8,0.5],[0.9,0.7]], init [0.5,0.4]: ACC 0.8, AIA (0.8 + 0.8)/2 = 0.8,
  // BWT 0.9-0.8 = 0.1, FWT 0.5-0.4 = 0.1, FWT_baseline n/a (no baselines), forgetting
  // max(0.8)-0.9 = -0.1, plasticity 0.75, balanced (0.9 + 0.7)/2 = 0.8
  EXPECT_EQ(l[1], "A,a1,1,0.8,0.8,0.1,0.1,n/a,-0.1,0.75,n/a,0.8");
  EXPECT_EQ(l[3].substr(0, 8), "B,b1,1,0");
}

TEST_F(ReportFiles, ConfigsCsvHasStatisticsOverCompletedRuns) {
  const auto l = lines(slurp(out_ / "configs.csv"));
  EXPECT_EQ(l[0], "config,metric,n,mean,std,ci95_low,ci95_high");
  // A: ACC 0.8 and 0.7 -> mean 0.75, std sqrt(0.005) = 0.0707106781, half width
  // 12.7062 * 0.0707106781 / sqrt(2) = 0.63531
  EXPECT_EQ(l[1], "A,ACC,2,0.75,0.07071067812,0.11469,1.38531");
  // B: one run: std and CI undefined
  EXPECT_EQ(l[1 + kMoedilMetricCount], "B,ACC,1,0.75,n/a,n/a,n/a");
}

TEST_F(ReportFiles, StatusAndProblems) {
  const std::string status = slurp(out_ / "status.csv");
  EXPECT_NE(status.find("A,a3,failed,1,1,loss is NaN,"), std::string::npos) << status;
  const std::string problems = slurp(out_ / "problems.csv");
  EXPECT_NE(problems.find((results_ / "B" / "broken" / "run.json").string()), std::string::npos);
  EXPECT_NE(output_.terminal.find("failed"), std::string::npos);
  EXPECT_NE(output_.terminal.find("broken"), std::string::npos);
  EXPECT_NE(output_.terminal.find("0.7500 +- 0.0707 (n=2)"), std::string::npos) << output_.terminal;
}

TEST_F(ReportFiles, PngsAreDrawnFromTheSpecs) {
  MOEDIL_REQUIRE_BROWSER(chromium, vega);
  for (const char* f : {"final_acc_by_config", "runs/a1/r_matrix", "runs/a1/accuracy"}) {
    const auto spec = nlohmann::json::parse(slurp(out_ / (std::string(f) + ".vg.json")));
    const auto [w, h] = png_size(slurp(out_ / (std::string(f) + ".png")));
    EXPECT_GT(w, 2 * spec.at("width").get<double>()) << f << ": drawn at twice the size";
    EXPECT_GT(h, 2 * spec.at("height").get<double>()) << f;
  }
  EXPECT_NE(slurp(out_ / "runs/a1/confusion_a.png"), slurp(out_ / "runs/a1/confusion_b.png"));
}

TEST_F(ReportFiles, MarkdownAndHtmlHoldTablesAndFigures) {
  const std::string md = slurp(out_ / "report.md");
  if (browser_available()) {
    EXPECT_NE(md.find("](final_acc_by_config.png)"), std::string::npos);
    EXPECT_NE(md.find("](runs/a1/r_matrix.png)"), std::string::npos);
    EXPECT_NE(md.find("domain b](runs/a1/confusion_b.png)"), std::string::npos);
  } else {
    EXPECT_NE(md.find("[Vega spec](runs/a1/r_matrix.vg.json), [data](runs/a1/r_matrix.csv)"),
              std::string::npos);
  }
  EXPECT_NE(md.find("| config | metric | n | mean | std | ci95\\_low | ci95\\_high |"),
            std::string::npos);
  const std::string html = slurp(out_ / "report.html");
  EXPECT_NE(html.find("<div class=\"vega\""), std::string::npos);
  EXPECT_NE(html.find("<a href=\"runs/a1/r_matrix.vg.json\">Vega spec</a>"), std::string::npos);
  EXPECT_EQ(html.find("src=\"runs/"), std::string::npos) << "nothing loaded from beside the page";
  if (load_vega_runtime().ok()) EXPECT_NE(html.find("def('vega-view'"), std::string::npos) << "Vega inlined";
  EXPECT_NE(html.find("Per-class precision, recall, F1"), std::string::npos);
}

// write_report refuses with a UsageError naming `needle` and writes nothing.
void expect_refused_before_writing(const fs::path& target, const fs::path& out, const std::string& formats,
                                   const std::string& needle) {
  try {
    write_report(collect_runs(target), out, parse_formats(formats));
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(Report, PngListedWithoutChromiumIsRefusedBeforeWritingAnything) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  ScopedEnv env("MOEDIL_CHROMIUM", (tmp.path() / "no-chromium").string());
  const fs::path out = tmp.path() / "o";
  expect_refused_before_writing(tmp.path() / "A", out, "md,png", "apt-get install chromium");
  // By default the report is written without PNGs, and says so.
  const ReportOutput o = write_report(collect_runs(tmp.path() / "A"), out, ReportFormats{});
  EXPECT_FALSE(fs::exists(out / "runs" / "a1" / "r_matrix.png"));
  EXPECT_TRUE(fs::exists(out / "runs" / "a1" / "r_matrix.vg.json"));
  if (!load_vega_runtime().ok()) GTEST_SKIP() << "SKIPPED: libjs-vega not installed (its note comes first)";
  ASSERT_EQ(o.notes.size(), 1u);
  EXPECT_NE(o.notes.back().find("PNGs not written: no Chromium"), std::string::npos) << o.notes.back();
  EXPECT_NE(slurp(out / "report.md").find("PNGs not written"), std::string::npos);
}

TEST(Report, GroupsWhoseNamesMapToOneDirectoryKeepTheirOwnFigures) {
  TempDir tmp;
  int id = 0;
  for (const char* g : {"x y", "x_y", "x_y_2"}) {
    for (int seed : {1, 2}) {
      write_run(tmp.path() / "res" / std::to_string(id), make_record("r" + std::to_string(id), g, "completed", 0.0, seed));
      ++id;
    }
  }
  const fs::path out = tmp.path() / "o";
  write_report(collect_runs(tmp.path() / "res"), out, parse_formats("csv"));
  std::set<std::string> dirs;
  for (const auto& e : fs::directory_iterator(out / "groups")) dirs.insert(e.path().filename().string());
  EXPECT_EQ(dirs.size(), 3u) << "one directory per group, none overwritten";
}

TEST(Report, PngListedWithoutVegaIsRefusedBeforeWritingAnything) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  ScopedEnv browser("MOEDIL_CHROMIUM", testing::fake_browser(tmp.path(), "exit 1").string());
  ScopedEnv env("MOEDIL_VEGA_DIR", (tmp.path() / "no-vega").string());
  expect_refused_before_writing(tmp.path() / "A", tmp.path() / "o", "csv,png", "apt-get install libjs-vega");
}

TEST(Report, AFailedRenderingWithPngRequiredIsReportedAfterTheRest) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  ScopedEnv browser("MOEDIL_CHROMIUM", testing::fake_browser(tmp.path(), "echo 'no display' >&2; exit 1").string());
  if (!load_vega_runtime().ok()) GTEST_SKIP() << "SKIPPED: libjs-vega not installed";
  const fs::path out = tmp.path() / "o";
  const ReportOutput o = write_report(collect_runs(tmp.path() / "A"), out, parse_formats("csv,png"));
  EXPECT_NE(o.png_error.find("no display"), std::string::npos) << o.png_error;
  EXPECT_TRUE(fs::exists(out / "runs.csv")) << "the rest is written";
  EXPECT_TRUE(fs::exists(out / "runs" / "a1" / "r_matrix.vg.json"));
  EXPECT_FALSE(fs::exists(out / "runs" / "a1" / "r_matrix.png"));
  // Not required: the same failure is a note, not an error.
  const ReportOutput d = write_report(collect_runs(tmp.path() / "A"), tmp.path() / "d", ReportFormats{});
  EXPECT_TRUE(d.png_error.empty());
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes.back().find("PNGs not written"), std::string::npos) << d.notes.back();
}

TEST(Report, WithoutVegaThePageSaysSoAndTheSpecsAreStillWritten) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  ScopedEnv env("MOEDIL_VEGA_DIR", (tmp.path() / "no-vega").string());
  const fs::path out = tmp.path() / "o";
  const ReportOutput o = write_report(collect_runs(tmp.path() / "A"), out, parse_formats("md,html"));
  ASSERT_EQ(o.notes.size(), 1u);
  EXPECT_NE(o.notes[0].find("apt-get install libjs-vega"), std::string::npos) << o.notes[0];
  EXPECT_NE(slurp(out / "report.html").find("The figures cannot be drawn"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "runs" / "a1" / "confusion.vg.json"));
}

TEST(Report, GroupsAreExperimentsAndRunsCsvHasTheirHyperparameters) {
  // quickstart with model.moe_top_k 1 and 2, two seeds each: two groups of n = 2, not one of 4.
  TempDir tmp;
  const fs::path results = tmp.path() / "results";
  for (int top_k : {1, 2}) {
    for (int seed : {1, 2}) {
      io::RunRecord r = make_record("k" + std::to_string(top_k) + "s" + std::to_string(seed),
                                    "quickstart", "completed", 0.1 * top_k, seed);
      r.run.config = {{"dataset", "synthetic"},
                      {"model", {{"moe_top_k", top_k}}},
                      {"seeds", {{"global", seed}}}};
      write_run(results / "quickstart", r);
    }
  }
  const fs::path out = tmp.path() / "rep";
  const ReportOutput output = write_report(collect_runs(results), out, ReportFormats{});
  const auto runs = lines(slurp(out / "runs.csv"));
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs[0].substr(0, 35), "config,run,seed,model.moe_top_k,ACC");
  // k2s1: ACC = (0.9 - 0.2 + 0.7) / 2 = 0.7
  EXPECT_EQ(runs[3].substr(0, 43), "quickstart[model.moe_top_k=2],k2s1,1,2,0.7,");
  const auto configs = lines(slurp(out / "configs.csv"));
  ASSERT_EQ(configs.size(), 1 + 2 * kMoedilMetricCount);  // two groups, not one of n = 4
  // ACC: top_k 1: 0.75 both seeds; top_k 2: 0.7 both seeds
  EXPECT_EQ(configs[1], "quickstart[model.moe_top_k=1],ACC,2,0.75,0,0.75,0.75");
  EXPECT_EQ(configs[1 + kMoedilMetricCount], "quickstart[model.moe_top_k=2],ACC,2,0.7,0,0.7,0.7");
  EXPECT_NE(output.terminal.find("quickstart[model.moe_top_k=1]"), std::string::npos);
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("quickstart\\[model.moe\\_top\\_k=2\\]"), std::string::npos);
}

TEST(Report, FwtBaselineIsItsOwnColumn) {
  TempDir tmp;
  io::RunRecord r = make_record("a1", "A");
  r.baseline_acc = std::vector<double>{0.9, 0.8};
  r.metrics = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, r.baseline_acc);
  write_run(tmp.path() / "A", r);
  const fs::path out = tmp.path() / "rep";
  write_report(collect_runs(tmp.path() / "A"), out, parse_formats("csv"));
  const auto l = lines(slurp(out / "runs.csv"));
  // FWT (GEM) = R[0][1] - init[1] = 0.5 - 0.4 = 0.1; FWT_baseline = 0.5 - 0.8 = -0.3;
  // intransience = ((0.9 - 0.8) + (0.8 - 0.7)) / 2 = 0.1
  EXPECT_EQ(l[1], "A,a1,0,0.8,0.8,0.1,0.1,-0.3,-0.1,0.75,0.1,0.8");
}

TEST(Report, AFailedRunWithNonFiniteNumbersIsReadAndListed) {
  TempDir tmp;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  io::RunRecord r = make_record("f1", "A", "failed");
  r.run.error = "loss is not finite at domain 0 epoch 0";
  io::EpochRecord& e = r.epochs.at(0);
  for (double* v : {&e.lr, &e.train_loss, &e.aux_loss, &e.train_acc, &e.seconds,
                    &e.eval_seconds, &e.samples_per_s, &e.balance_weight}) {
    *v = nan;
  }
  e.lr = inf;
  e.dropped_fraction["blocks.1.moe"] = nan;
  e.routing_entropy["blocks.1.moe"] = inf;
  e.dead_experts["blocks.1.moe"] = 0;
  e.eval[0].loss = nan;
  e.eval[1].loss = inf;
  e.eval[1].acc = nan;
  r.r_matrix = {{nan, inf}};
  r.r_history = {{{nan, inf}}};
  r.init_acc = {nan, -inf};
  write_run(tmp.path() / "A", r);
  write_run(tmp.path() / "A", make_record("a1", "A"));
  const Collection c = collect_runs(tmp.path() / "A");
  EXPECT_TRUE(c.problems.empty()) << c.problems.front();
  ASSERT_EQ(c.runs.size(), 2u);
  const fs::path out = tmp.path() / "rep";
  write_report(c, out, ReportFormats{});
  const std::string status = slurp(out / "status.csv");
  EXPECT_NE(status.find("A,f1,failed,1,1,loss is not finite at domain 0 epoch 0,"),
            std::string::npos)
      << status;
  EXPECT_FALSE(fs::exists(out / "problems.csv"));
  EXPECT_TRUE(fs::exists(out / "runs" / "f1" / "accuracy.vg.json"));
  // Non-finite numbers are null in the specs (JSON has no NaN) and n/a in the CSVs.
  const auto spec = nlohmann::json::parse(slurp(out / "runs" / "f1" / "r_matrix.vg.json"));
  EXPECT_TRUE(spec.at("data")[0].at("values")[0].at("acc").is_null());
}

TEST(Report, NamesFromRunJsonAreEscapedInEveryFormat) {
  TempDir tmp;
  const std::string evil_config = "=HYPERLINK(\"http://x\")|<script>alert(1)</script>*_`[x](y)";
  io::RunRecord r = make_record("-2+3", evil_config, "completed", 0.0, 1);
  r.domains = {"@SUM(A1)", "<img src=x onerror=alert(2)>"};
  for (io::EpochRecord& e : r.epochs) {
    e.eval[0].domain = r.domains[0];
    e.eval[1].domain = r.domains[1];
  }
  io::RunRecord failed = make_record("f\x1b[2J", "B", "failed", 0.0, 2);
  failed.run.error = "=1+2 \x1b]0;owned\x07 <b>bold</b> | pipe";
  write_run(tmp.path() / "res", r);
  write_run(tmp.path() / "res", failed);
  const fs::path out = tmp.path() / "rep";
  const ReportOutput output = write_report(collect_runs(tmp.path() / "res"), out, ReportFormats{});

  // Terminal: no control characters.
  EXPECT_EQ(output.terminal.find('\x1b'), std::string::npos) << output.terminal;
  EXPECT_EQ(output.terminal.find('\x07'), std::string::npos);
  EXPECT_NE(output.terminal.find("\\x1b]0;owned\\x07"), std::string::npos) << output.terminal;

  // CSV: text cells that a spreadsheet would run as a formula start with '; numbers stay.
  const auto runs = lines(slurp(out / "runs.csv"));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1].substr(0, 20), "\"'=HYPERLINK(\"\"http:") << runs[1];
  EXPECT_NE(runs[1].find(",'-2+3,1,0.8,"), std::string::npos) << runs[1];
  EXPECT_NE(runs[1].find(",-0.1,"), std::string::npos) << "a negative number stays a number";
  const std::string status = slurp(out / "status.csv");
  EXPECT_NE(status.find(",'=1+2 \\x1b]0;owned\\x07 <b>bold</b> | pipe,"), std::string::npos)
      << status;
  EXPECT_EQ(status.find('\x1b'), std::string::npos) << "control characters are escaped";
  const std::string domains = slurp(out / "final_domain_acc.csv");
  EXPECT_NE(domains.find(",'@SUM(A1),"), std::string::npos) << domains;
  for (const char* file : {"runs.csv", "status.csv", "configs.csv", "configs_side_by_side.csv",
                           "final_domain_acc.csv", "class_metrics.csv"}) {
    for (const std::string& line : lines(slurp(out / file))) {
      // No field (after a separator, or the line's first) starts with = @ or +.
      for (const char* bad : {",=", ",@", ",+", ",\"=", ",\"@"}) {
        EXPECT_EQ(line.find(bad), std::string::npos) << file << ": " << line;
      }
      EXPECT_TRUE(line.empty() || (line[0] != '=' && line[0] != '@' && line[0] != '+'))
          << file << ": " << line;
    }
  }

  // Markdown: names are text, never markup, links or HTML.
  const std::string md = slurp(out / "report.md");
  // Every < > [ ] ` * _ | in report.md is escaped (the file has no markup of its own with them,
  // except its table pipes and image links): no raw HTML tag, link or code span.
  for (std::size_t pos = md.find_first_of("<>`"); pos != std::string::npos;
       pos = md.find_first_of("<>`", pos + 1)) {
    EXPECT_EQ(md[pos - 1], '\\') << "unescaped " << md[pos] << " at " << pos << ": "
                                  << md.substr(pos > 40 ? pos - 40 : 0, 80);
  }
  EXPECT_EQ(md.find('\x1b'), std::string::npos);
  EXPECT_NE(md.find("\\<script\\>alert\\(1\\)\\</script\\>\\*\\_\\`\\[x\\]\\(y\\)"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("\\| pipe"), std::string::npos);
  EXPECT_EQ(md.find("](y)"), std::string::npos) << "a name became a link";

  // HTML: everything escaped.
  const std::string html = slurp(out / "report.html");
  EXPECT_EQ(html.find("<script>alert"), std::string::npos);
  EXPECT_EQ(html.find("<img src=x"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
}

TEST(Report, FormatsSelectFiles) {
  TempDir tmp;
  write_run(tmp.path() / "A", make_record("a1", "A"));
  const fs::path out = tmp.path() / "o";
  write_report(collect_runs(tmp.path() / "A" / "a1"), out, parse_formats("csv"));
  EXPECT_TRUE(fs::exists(out / "runs.csv"));
  EXPECT_FALSE(fs::exists(out / "report.md"));
  EXPECT_FALSE(fs::exists(out / "report.html"));
  EXPECT_FALSE(fs::exists(out / "problems.csv"));
  EXPECT_FALSE(fs::exists(out / "final_acc_by_config.vg.json")) << "a single run has no comparison";
  EXPECT_TRUE(fs::exists(out / "runs" / "a1" / "r_matrix.vg.json"));
  EXPECT_FALSE(fs::exists(out / "runs" / "a1" / "r_matrix.png")) << "png not listed";
  EXPECT_THROW(parse_formats("md,pdf"), UsageError);
  EXPECT_EQ(parse_formats("png").png, PngMode::Required);
  EXPECT_EQ(parse_formats("md").png, PngMode::Off);
}

}  // namespace
}  // namespace moedil::report
