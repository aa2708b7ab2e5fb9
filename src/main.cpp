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
      "every epoch, and writes results/<config>/<run-id>/run.json and logs/<run-id>.log."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moedil 0.1.0");

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run one experiment from a config file");
  run_cmd->add_option("config", run.config_path,
                      "JSONC config, e.g. configs/quickstart.jsonc (not with --resume)");
  run_cmd->add_option("--run-dir", run.run_dir,
                      "Write into exactly this directory (its name becomes the run id) instead "
                      "of results/<config>/<run-id>");
  run_cmd->add_option("--resume", run.resume_dir,
                      "Continue the run in RUN_DIR after its last finished epoch, with the "
                      "config saved in its run.json; a completed run is left as it is")
      ->option_text("RUN_DIR");
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
      "Checkpoint: <run dir>/checkpoint.pt, rewritten after every epoch. After a crash, a kill\n"
      "or Ctrl-C, moedil run --resume <run dir> continues from the last finished epoch and\n"
      "reaches the same results (on CPU, bit for bit) as an uninterrupted run.\n"
      "Ctrl-C / SIGTERM stop before the next step and mark the run interrupted (exit 130 / 143).\n");

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
  } catch (const std::exception& e) {
    moedil::io::logger()->error("{}", e.what());
    return exit_code_for(e);
  }
  return 2;
}
