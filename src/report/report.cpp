#include "moedil/report/report.h"

#include <sstream>

#include "moedil/common/error.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"
#include "moedil/report/html.h"
#if MOEDIL_WITH_OPENCV
#include "moedil/report/plots.h"
#endif
#include "moedil/report/summary.h"
#include "moedil/report/tables.h"

namespace moedil::report {
namespace fs = std::filesystem;
namespace {

struct Figure {
  std::string rel_path;  ///< relative to the report directory
  std::string caption;
  std::vector<unsigned char> png;
};

// The plots are drawn with OpenCV; a build without it (-DMOEDIL_WITH_OPENCV=OFF) writes the
// tables only and says so in every format.
#if MOEDIL_WITH_OPENCV
constexpr const char* kNoFigures = "";

std::string safe_name(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '-' || ch == '_';
    out += ok ? ch : '_';
  }
  return out.empty() || out == "." || out == ".." ? "_" + out : out;
}

// Every figure of one run; a figure that cannot be drawn (no data yet) is left out.
std::vector<Figure> run_figures(const io::RunRecord& r) {
  std::vector<Figure> figs;
  const std::string dir = "runs/" + safe_name(r.run.id) + "/";
  auto add = [&](const std::string& file, const std::string& caption, auto draw) {
    try {
      figs.push_back({dir + file, caption, draw()});
    } catch (const DataError&) {
    }
  };
  if (!r.r_matrix.empty()) {
    add("r_matrix.png", "R-matrix", [&] {
      return plot_r_matrix(r.r_matrix, r.domains, "R-matrix " + r.run.id);
    });
  }
  add("accuracy.png", "accuracy on every domain after every epoch", [&] {
    return plot_accuracy_curves(r, "Accuracy per domain across epochs (" + r.run.id + ")");
  });
  if (!r.epochs.empty()) {
    const auto& eval = r.epochs.back().eval;
    for (std::size_t j = 0; j < eval.size(); ++j) {
      const std::string d = eval[j].domain.empty() ? std::to_string(j) : eval[j].domain;
      add("confusion_" + safe_name(d) + ".png", "final confusion matrix, domain " + d, [&] {
        return plot_confusion(eval[j].confusion, "Final confusion matrix, domain " + d);
      });
    }
  }
  for (const std::string& layer : usage_layers(r)) {
    add("usage_" + safe_name(layer) + ".png", "expert usage in training, layer " + layer, [&] {
      return plot_expert_usage(r, layer, "Expert usage per epoch, layer " + layer);
    });
  }
  return figs;
}

std::vector<Figure> overview_figures(const std::vector<ConfigSummary>& configs) {
  try {
    return {{"final_acc_by_config.png", "final per-domain accuracy by config",
             plot_config_domain_acc(configs, "Final accuracy per domain: mean +- std over completed runs")}};
  } catch (const DataError&) {
    return {};
  }
}
#else
constexpr const char* kNoFigures =
    "No figures: this moedil was built without OpenCV (-DMOEDIL_WITH_OPENCV=OFF), which draws them.";

std::vector<Figure> run_figures(const io::RunRecord&) { return {}; }
std::vector<Figure> overview_figures(const std::vector<ConfigSummary>&) { return {}; }
#endif

class Writer {
 public:
  explicit Writer(fs::path dir) : dir_(std::move(dir)) {}
  void text(const std::string& rel, const std::string& content) {
    io::write_file_atomic(dir_ / rel, content);
    files_.push_back(dir_ / rel);
  }
  void bytes(const std::string& rel, const std::vector<unsigned char>& png) {
    text(rel, std::string(reinterpret_cast<const char*>(png.data()), png.size()));
  }
  std::vector<fs::path> files() const { return files_; }

 private:
  fs::path dir_;
  std::vector<fs::path> files_;
};

}  // namespace

ReportFormats parse_formats(const std::string& list) {
  ReportFormats f{false, false, false};
  std::stringstream ss(list);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    if (item == "md") f.md = true;
    else if (item == "csv") f.csv = true;
    else if (item == "html") f.html = true;
    else throw UsageError("--format: unknown format '" + item + "' (valid: md, csv, html)");
    any = true;
  }
  if (!any) throw UsageError("--format: give at least one of md, csv, html");
  return f;
}

ReportOutput write_report(const Collection& c, const fs::path& out_dir, const ReportFormats& formats,
                          bool predecessor_metrics) {
  std::vector<RunSummary> runs;
  std::vector<const io::RunRecord*> records;
  std::vector<std::string> groups;
  for (const LoadedRun& r : c.runs) {
    runs.push_back(summarize_run(r.record, r.path.string()));
    if (!r.group.empty()) runs.back().group = r.group;
    runs.back().varied = r.varied;
    records.push_back(&r.record);
    groups.push_back(runs.back().group);
  }
  const std::vector<ConfigSummary> configs = summarize_configs(runs, c.configs);
  const Table t_runs = runs_table(runs, c.varied_keys, predecessor_metrics);
  const Table t_status = status_table(runs);
  const Table t_stats = config_stats_table(configs, predecessor_metrics);
  const Table t_side = configs_side_by_side(configs, predecessor_metrics);
  const Table t_domain = final_domain_table(configs);
  const Table t_problems = problems_table(c.problems);

  Writer w(out_dir);
  ReportOutput out;
  {
    std::ostringstream term;
    term << to_text(t_runs) << "\n" << to_text(t_side);
    if (!t_status.rows.empty()) term << "\n" << to_text(t_status);
    if (!t_problems.rows.empty()) term << "\n" << to_text(t_problems);
    if (*kNoFigures) term << "\n" << kNoFigures << "\n";
    out.terminal = term.str();
  }

  // Figures.
  std::vector<Figure> overview;
  if (c.runs.size() > 1 || c.kind == TargetKind::Metaconfig) overview = overview_figures(configs);
  std::vector<std::vector<Figure>> per_run;
  for (const LoadedRun& r : c.runs) per_run.push_back(run_figures(r.record));
  for (const Figure& f : overview) w.bytes(f.rel_path, f.png);
  for (const auto& figs : per_run)
    for (const Figure& f : figs) w.bytes(f.rel_path, f.png);

  if (formats.csv) {
    w.text("runs.csv", to_csv(t_runs));
    w.text("status.csv", to_csv(t_status));
    w.text("configs.csv", to_csv(t_stats));
    w.text("configs_side_by_side.csv", to_csv(t_side));
    w.text("final_domain_acc.csv", to_csv(t_domain));
    w.text("class_metrics.csv", to_csv(class_metrics_long(records, groups)));
    if (!c.problems.empty()) w.text("problems.csv", to_csv(t_problems));
  }

  const std::string title = "moedil report: " + c.title;
  const std::string definitions =
      "Runs are grouped by experiment: the config name and the effective configuration (the "
      "resolved config with its overrides, seeds and run placement excluded); a config name "
      "with several is shown with the keys that differ, e.g. quickstart[model.moe_top_k=2]. "
      "ACC, AIA, BWT, FWT (GEM: against the accuracy before training), FWT_baseline (against "
      "the baselines, when they ran), forgetting, plasticity and intransience as in README "
      "\"Metrics\"; balanced_acc = mean over domains of the mean per-class recall in the last "
      "evaluation (classes without true samples excluded). std is the sample standard deviation "
      "(n - 1); the 95% CI is mean +- t(0.975, n-1) * std / sqrt(n); both are n/a for n = 1. "
      "Only completed runs enter the statistics." +
      std::string(predecessor_metrics
                      ? " AIA_predecessor, FWT_predecessor and intransigence_predecessor are the "
                        "predecessor's final values (README \"Metrics\"): the last row's mean "
                        "(= ACC), FWT against the baselines (= FWT_baseline), and the last "
                        "domain's baseline_acc - R[T-1][T-1]."
                      : "");
  if (formats.md) {
    // Every name, path and message from run.json goes through md_escape: never markup.
    std::ostringstream md;
    md << "# " << md_escape(title) << "\n\n" << md_escape(definitions) << "\n\n";
    if (*kNoFigures) md << md_escape(kNoFigures) << "\n\n";
    if (!t_problems.rows.empty()) md << to_markdown(t_problems) << "\n";
    md << to_markdown(t_side) << "\n" << to_markdown(t_stats) << "\n" << to_markdown(t_domain) << "\n";
    for (const Figure& f : overview) md << "![" << md_escape(f.caption) << "](" << f.rel_path << ")\n\n";
    if (!t_status.rows.empty()) md << to_markdown(t_status) << "\n";
    md << to_markdown(t_runs) << "\n";
    for (std::size_t i = 0; i < c.runs.size(); ++i) {
      const io::RunRecord& r = c.runs[i].record;
      md << "## Run " << md_escape(r.run.id) << " (" << md_escape(runs[i].group) << ", "
         << md_escape(r.run.status) << ")\n\n"
         << "File: " << md_escape(c.runs[i].path.string()) << "\n\n";
      if (!r.run.error.empty()) md << "Error: " << md_escape(r.run.error) << "\n\n";
      for (const Figure& f : per_run[i]) {
        md << "![" << md_escape(f.caption) << "](" << f.rel_path << ")\n\n";
      }
      md << to_markdown(final_class_table(r)) << "\n" << to_markdown(epoch_balanced_table(r)) << "\n";
    }
    w.text("report.md", md.str());
  }
  if (formats.html) {
    HtmlPage page(title);
    page.paragraph(definitions);
    if (*kNoFigures) page.paragraph(kNoFigures);
    if (!t_problems.rows.empty()) page.table(t_problems);
    page.heading("Configs");
    page.table(t_side);
    for (const Figure& f : overview) page.image(f.png, f.caption);
    page.table(t_domain);
    page.details_begin("Population statistics, long form");
    page.table(t_stats);
    page.details_end();
    page.heading("Runs");
    if (!t_status.rows.empty()) page.table(t_status);
    page.table(t_runs);
    for (std::size_t i = 0; i < c.runs.size(); ++i) {
      const io::RunRecord& r = c.runs[i].record;
      page.heading("Run " + r.run.id + " (" + runs[i].group + ", " + r.run.status + ")", 3);
      page.paragraph(c.runs[i].path.string() + (r.run.error.empty() ? "" : "; error: " + r.run.error));
      for (const Figure& f : per_run[i]) page.image(f.png, f.caption);
      page.details_begin("Per-class precision, recall, F1 at the end");
      page.table(final_class_table(r));
      page.details_end();
      page.details_begin("Balanced accuracy per domain after every epoch");
      page.table(epoch_balanced_table(r));
      page.details_end();
    }
    w.text("report.html", page.str());
  }
  out.files = w.files();
  return out;
}

}  // namespace moedil::report
