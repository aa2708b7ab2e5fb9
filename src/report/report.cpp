#include "moedil/report/report.h"

#include <optional>
#include <set>
#include <sstream>

#include "moedil/common/error.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"
#include "moedil/report/html.h"
#include "moedil/report/png_render.h"
#include "moedil/report/summary.h"
#include "moedil/report/tables.h"
#include "moedil/report/vega_runtime.h"
#include "moedil/report/vega_specs.h"

namespace moedil::report {
namespace fs = std::filesystem;
namespace {

// Every figure of one run; a figure that cannot be drawn (no data yet) is left out.
std::vector<VegaFigure> run_figures(const io::RunRecord& r) {
  std::vector<VegaFigure> figs;
  const std::string dir = "runs/" + file_safe_name(r.run.id) + "/";
  auto add = [&](auto make) {
    try {
      figs.push_back(make());
    } catch (const DataError&) {
    }
  };
  if (!r.r_matrix.empty()) add([&] { return r_matrix_figure(r, dir); });
  add([&] { return accuracy_figure(r, dir); });
  add([&] { return confusion_figure(r, dir); });
  add([&] { return usage_figure(r, dir); });
  return figs;
}

// The comparison of configs, and per experiment group with two or more completed runs its
// accuracy curves as mean and band over the runs (its seeds).
std::vector<VegaFigure> overview_figures(const Collection& c, const std::vector<ConfigSummary>& configs,
                                         const std::vector<std::string>& groups, bool compare) {
  std::vector<VegaFigure> figs;
  if (compare) {
    try {
      figs.push_back(config_domain_acc_figure(configs));
    } catch (const DataError&) {
    }
  }
  std::set<std::string> dirs;
  for (const ConfigSummary& cfg : configs) {
    std::vector<const io::RunRecord*> done;
    for (std::size_t i = 0; i < c.runs.size(); ++i) {
      if (groups[i] == cfg.name && c.runs[i].record.run.status == "completed") done.push_back(&c.runs[i].record);
    }
    if (done.size() < 2) continue;
    try {
      // Two group names may map to one directory name: the later gets a number.
      const std::string base = file_safe_name(cfg.name);
      std::string dir = base;
      for (int k = 2; !dirs.insert(dir).second; ++k) dir = base + "_" + std::to_string(k);
      figs.push_back(group_accuracy_figure(cfg.name, done, "groups/" + dir + "/"));
    } catch (const DataError&) {
    }
  }
  return figs;
}

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
  ReportFormats f{false, false, false, PngMode::Off};
  std::stringstream ss(list);
  std::string item;
  bool any = false;
  while (std::getline(ss, item, ',')) {
    if (item == "md") f.md = true;
    else if (item == "csv") f.csv = true;
    else if (item == "html") f.html = true;
    else if (item == "png") f.png = PngMode::Required;
    else throw UsageError("--format: unknown format '" + item + "' (valid: md, csv, html, png)");
    any = true;
  }
  if (!any) throw UsageError("--format: give at least one of md, csv, html, png");
  return f;
}

ReportOutput write_report(const Collection& c, const fs::path& out_dir, const ReportFormats& formats,
                          bool predecessor_metrics) {
  // Asked for PNGs without a browser or Vega to draw them: say so before writing anything.
  std::optional<fs::path> chromium;
  if (formats.png != PngMode::Off) {
    chromium = find_chromium();
    if (!chromium && formats.png == PngMode::Required) {
      throw UsageError("--format png: no Chromium to render the PNGs with (apt-get install chromium, "
                       "or set MOEDIL_CHROMIUM to a chromium binary); leave png out to write the "
                       "rest, whose figures are drawn by report.html");
    }
  }
  VegaRuntime vega;
  if (formats.html || chromium) {
    vega = load_vega_runtime();
    if (!vega.ok() && formats.png == PngMode::Required) {
      throw UsageError("--format png: " + vega.missing + "; leave png out to write the rest");
    }
  }
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

  // Figures: the Vega spec and the tidy data of each, always; PNGs rendered from the specs.
  const std::vector<VegaFigure> overview =
      overview_figures(c, configs, groups, c.runs.size() > 1 || c.kind == TargetKind::Metaconfig);
  std::vector<std::vector<VegaFigure>> per_run;
  for (const LoadedRun& r : c.runs) per_run.push_back(run_figures(r.record));
  std::vector<const VegaFigure*> all;
  for (const VegaFigure& f : overview) all.push_back(&f);
  for (const auto& figs : per_run)
    for (const VegaFigure& f : figs) all.push_back(&f);
  for (const VegaFigure* f : all) {
    w.text(f->path + ".vg.json",
           f->spec.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    w.text(f->path + ".csv", to_csv(f->data));
  }
  if (!all.empty() && (formats.html || chromium) && !vega.ok()) {
    out.notes.push_back("figures not drawn: " + vega.missing);
  }
  bool pngs_written = false;  // all of them, or none
  if (chromium && vega.ok() && !all.empty()) {
    std::vector<PngJob> jobs;
    std::vector<std::string> paths;
    for (const VegaFigure* f : all) {
      for (const VegaFigure::Png& p : f->pngs) {
        jobs.push_back({&f->spec, p.signals});
        paths.push_back(p.path);
      }
    }
    try {
      const std::vector<std::vector<unsigned char>> pngs = render_pngs(*chromium, vega.script, jobs);
      for (std::size_t i = 0; i < pngs.size(); ++i) w.bytes(paths[i], pngs[i]);
      pngs_written = true;
    } catch (const std::exception& e) {  // whatever went wrong, the rest is still written
      if (formats.png == PngMode::Required) out.png_error = e.what();
      out.notes.push_back(std::string("PNGs not written: ") + e.what());
    }
  } else if (formats.png == PngMode::IfAvailable && !all.empty() && vega.ok()) {
    out.notes.push_back("PNGs not written: no Chromium to render them with (apt-get install chromium, "
                        "or set MOEDIL_CHROMIUM); report.html draws every figure");
  }
  {
    std::ostringstream term;
    term << to_text(t_runs) << "\n" << to_text(t_side);
    if (!t_status.rows.empty()) term << "\n" << to_text(t_status);
    if (!t_problems.rows.empty()) term << "\n" << to_text(t_problems);
    out.terminal = term.str();
  }

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
      "Only completed runs enter the statistics. Domains and epochs are numbered from 1." +
      std::string(predecessor_metrics
                      ? " AIA_predecessor, FWT_predecessor and intransigence_predecessor are the "
                        "predecessor's final values (README \"Metrics\"): the last row's mean "
                        "(= ACC), FWT against the baselines (= FWT_baseline), and the last "
                        "domain's baseline_acc - R[T-1][T-1]."
                      : "");
  if (formats.md) {
    // Every name, path and message from run.json goes through md_escape: never markup.
    auto md_figure = [&](std::ostringstream& md, const VegaFigure& f) {
      if (pngs_written) {
        for (const VegaFigure::Png& p : f.pngs) {
          std::string caption = f.caption;
          for (const auto& [k, v] : p.signals.items()) caption += ", " + k + " " + v.get<std::string>();
          md << "![" << md_escape(caption) << "](" << p.path << ")\n\n";
        }
      } else {
        md << md_escape(f.caption) << ": [Vega spec](" << f.path << ".vg.json), [data](" << f.path
           << ".csv)\n\n";
      }
    };
    std::ostringstream md;
    md << "# " << md_escape(title) << "\n\n" << md_escape(definitions) << "\n\n";
    for (const std::string& n : out.notes) md << md_escape(n) << "\n\n";
    if (!t_problems.rows.empty()) md << to_markdown(t_problems) << "\n";
    md << to_markdown(t_side) << "\n" << to_markdown(t_stats) << "\n" << to_markdown(t_domain) << "\n";
    for (const VegaFigure& f : overview) md_figure(md, f);
    if (!t_status.rows.empty()) md << to_markdown(t_status) << "\n";
    md << to_markdown(t_runs) << "\n";
    for (std::size_t i = 0; i < c.runs.size(); ++i) {
      const io::RunRecord& r = c.runs[i].record;
      md << "## Run " << md_escape(r.run.id) << " (" << md_escape(runs[i].group) << ", "
         << md_escape(r.run.status) << ")\n\n"
         << "File: " << md_escape(c.runs[i].path.string()) << "\n\n";
      if (!r.run.error.empty()) md << "Error: " << md_escape(r.run.error) << "\n\n";
      for (const VegaFigure& f : per_run[i]) md_figure(md, f);
      md << to_markdown(final_class_table(r)) << "\n" << to_markdown(epoch_balanced_table(r)) << "\n";
    }
    w.text("report.md", md.str());
  }
  if (formats.html) {
    auto links = [&](const VegaFigure& f) {
      std::vector<std::pair<std::string, std::string>> l{{"Vega spec", f.path + ".vg.json"},
                                                         {"data", f.path + ".csv"}};
      if (pngs_written) {
        for (const VegaFigure::Png& p : f.pngs) {
          std::string label = "PNG";
          for (const auto& [k, v] : p.signals.items()) label += " " + v.get<std::string>();
          l.emplace_back(label, p.path);
        }
      }
      return l;
    };
    HtmlPage page(title);
    page.set_vega(vega.script, vega.missing);
    page.paragraph(definitions);
    for (const std::string& n : out.notes) page.paragraph(n);
    if (!t_problems.rows.empty()) page.table(t_problems);
    page.heading("Configs");
    page.table(t_side);
    for (const VegaFigure& f : overview) page.figure(f.spec, f.caption, links(f));
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
      for (const VegaFigure& f : per_run[i]) page.figure(f.spec, f.caption, links(f));
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
