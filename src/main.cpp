// moedil: CLI wiring only. Each subcommand parses its options and calls one run_* function.
#include <iostream>

#include <CLI/CLI.hpp>

#include "moedil/cli/commands.h"
#include "moedil/io/logging.h"

int main(int argc, char** argv) {
  using namespace moedil::cli;
  CLI::App app{
      "moedil: mixture-of-experts models in domain-incremental continual learning.\n"
      "Trains a model domain after domain from one JSONC config, evaluates every domain after\n"
      "every epoch, and writes results/<config>/<run-id>/run.json and logs/<run-id>.log;\n"
      "report turns results into tables, plots and an HTML page."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moedil 0.1.0");

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run one experiment from a config file");
  run_cmd->add_option("config", run.config_path, "JSONC config, e.g. configs/quickstart.jsonc")
      ->required();
  run_cmd->add_option("--set", run.overrides,
                      "Override a config key: --set model.moe_top_k=2 (repeatable; values are "
                      "JSON, bare words are strings)")
      ->allow_extra_args(false);
  run_cmd->add_option("--device", run.device, "auto, cpu, cuda or cuda:N (overrides 'device')");
  run_cmd->add_option("--seed", run.seed,
                      "Global seed (overrides seeds.global; seeds not set in the config follow it)");
  run_cmd->add_option("--threads", run.threads,
                      "LibTorch intra-op threads (overrides num_threads; default all cores)");
  run_cmd->footer(
      "Results: results/<config-name>/<run-id>/run.json, rewritten after every epoch.\n"
      "Log:     logs/<run-id>.log, one line per epoch; follow it with tail -f.\n"
      "Ctrl-C stops at the next step and marks the run interrupted.\n");

  ValidateOptions validate;
  auto* validate_cmd = app.add_subcommand(
      "validate", "Check a config: every problem at once, with its JSON path and line");
  validate_cmd->add_option("config", validate.config_path, "JSONC config")->required();
  validate_cmd->add_option("--set", validate.overrides, "Override a config key (as for run)")
      ->allow_extra_args(false);
  validate_cmd->add_flag("--print", validate.print,
                         "Print the resolved config (every key, defaults filled in)");

  auto* list_cmd = app.add_subcommand(
      "list", "List the registered datasets, partition types, models and optimizers");

  ReportOptions report;
  auto* report_cmd = app.add_subcommand(
      "report", "Tables, statistics over seeds, PNG plots and an HTML page from results");
  report_cmd
      ->add_option("target", report.target,
                   "A run.json, a run directory, a results directory (e.g. results/<config>) or a "
                   "metaconfig (all runs of its configs)")
      ->required();
  report_cmd->add_option("--out", report.out,
                         "Output directory (default: <run dir>/report, <dir>/report, or "
                         "<results_dir>/report-<metaconfig name>)");
  report_cmd->add_option("--format", report.format,
                         "Comma-separated subset of md,csv,html (PNG plots are always written)")
      ->default_str("md,csv,html");
  report_cmd->footer(
      "Writes report.md, report.html (self-contained, images embedded), runs.csv, configs.csv,\n"
      "class_metrics.csv, ... and runs/<run-id>/*.png; prints the summary tables.\n"
      "Only completed runs enter the statistics; running or failed ones are listed with status.\n"
      "Exit 2 when a run.json cannot be read or nothing is found (the rest is still reported).\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (*run_cmd) return run_run(run);
    if (*validate_cmd) return run_validate(validate);
    if (*list_cmd) return run_list();
    if (*report_cmd) return run_report(report);
  } catch (const std::exception& e) {
    moedil::io::logger()->error("{}", e.what());
    return exit_code_for(e);
  }
  return 2;
}
