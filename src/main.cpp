// moedil: CLI wiring only. Each subcommand parses its options and calls one run_* function.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "moedil/cli/commands.h"
#include "moedil/cli/typo_hint.h"
#include "moedil/common/cpu_tuning.h"
#include "moedil/io/logging.h"

// Before any shared library initialises: libgomp reads its spin count when it loads, so
// moedil gives it its own setting from here (moedil/common/cpu_tuning.h).
__attribute__((section(".preinit_array"), used)) static void (*moedil_preinit)(int, char**,
                                                                                char**) =
    moedil::tune_openmp_at_preinit;

int main(int argc, char** argv) {
  moedil::settle_tuning_at_main();
  using namespace moedil::cli;
  CLI::App app{
      "moedil: mixture-of-experts models in domain-incremental continual learning.\n"
      "Trains a model domain after domain from one JSONC config, evaluates every domain after\n"
      "every epoch, and writes results/<config>/<run-id>/run.json and logs/<run-id>.log;\n"
      "report turns results into tables, figures and an HTML page."};
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
                      "Global seed (overrides seeds.global; seeds not set in the config "
                      "follow it; 0 draws a fresh seed unless the config's "
                      "seeds.zero_is_a_seed is true)");
  run_cmd->add_option("--threads", run.threads,
                      "LibTorch intra-op threads (overrides num_threads; default: the CPUs this process may use)");
  run_cmd->footer(
      "Results: results/<config-name>/<run-id>/run.json, rewritten after every epoch.\n"
      "Log:     logs/<run-id>.log, one line per epoch; follow it with tail -f.\n"
      "Checkpoint: <run dir>/checkpoint.pt, rewritten after every epoch. After a crash, a kill\n"
      "or Ctrl-C, moedil run --resume <run dir> continues from the last finished epoch and\n"
      "reaches the same results (on CPU, bit for bit) as an uninterrupted run.\n"
      "CPU: moedil sets GOMP_SPINCOUNT (a short OpenMP spin, so runs sharing cores do not stall)\n"
      "and, where OpenBLAS mistakes the CPU for an old one, OPENBLAS_CORETYPE; the log says so.\n"
      "Both are set before the libraries load (restarting only where the environment has no\n"
      "shell variable such as _ or SHLVL to lend them a slot). OpenBLAS's choice is remembered\n"
      "in ~/.cache/moedil/cpu-tuning (or $XDG_CACHE_HOME) for the next runs on the machine.\n"
      "Your own OMP_WAIT_POLICY / GOMP_SPINCOUNT / OPENBLAS_CORETYPE stand; MOEDIL_NO_TUNE=1\n"
      "sets nothing.\n"
      "Ctrl-C / SIGTERM stop any phase (loading, evaluating, training) within seconds and mark\n"
      "the run interrupted (exit 130 / 143); a run stopped before its first run.json leaves\n"
      "nothing behind.\n");

  ValidateOptions validate;
  auto* validate_cmd = app.add_subcommand(
      "validate",
      "Check a config: every problem at once, with its JSON path and line, and whether the run "
      "fits this machine's memory");
  validate_cmd->add_option("config", validate.config_path, "JSONC config")->required();
  validate_cmd->add_option("--set", validate.overrides, "Override a config key (as for run)")
      ->allow_extra_args(false);
  validate_cmd->add_flag("--explain", validate.explain,
                         "Print a note for each key whose predecessor (continous-MoE) meaning a "
                         "user porting a config should know: what moedil reads, and its own "
                         "variant");
  validate_cmd->add_flag("--print", validate.print,
                         "Print the resolved config (every key, defaults filled in)");

  BatchOptions batch;
  auto* batch_cmd = app.add_subcommand(
      "batch", "Run every (config, seed group) of a metaconfig, locally or on Slurm");
  batch_cmd->add_option("metaconfig", batch.metaconfig_path,
                        "JSONC metaconfig: configs, seeds lists, overrides, results_dir")
      ->required();
  batch_cmd->add_option("--jobs,-j", batch.jobs, "Runs at once (each gets cores/jobs threads)");
  batch_cmd->add_option("--configs-dir", batch.configs_dir,
                        "Where a config path of the metaconfig is looked for when it is not found "
                        "from the current directory (a path without extension also tries .jsonc "
                        "and .json)")
      ->capture_default_str();
  batch_cmd->add_option("--devices", batch.devices,
                        "cpu, or GPU numbers 0,1,... given to the jobs round robin");
  batch_cmd->add_flag("--dry-run", batch.dry_run,
                      "Print each run's key, action and command; start nothing (with --slurm: "
                      "write and print the script, do not submit)");
  batch_cmd->add_flag("--retry-failed", batch.retry_failed,
                      "Start failed runs again (the failed attempt moves to .failed/)");
  batch_cmd->add_flag("--slurm", batch.slurm,
                      "Submit a Slurm job array, one task per run that needs work");
  batch_cmd->add_option("--partition", batch.partition, "Slurm partition (--slurm)");
  batch_cmd->add_option("--time", batch.time, "Slurm time limit per task, e.g. 4:00:00 (--slurm)");
  batch_cmd->add_option("--gpus-per-task", batch.gpus_per_task, "GPUs per Slurm task (--slurm)");
  batch_cmd->add_option("--cpus-per-task", batch.cpus_per_task,
                        "CPUs per Slurm task, also the run's threads (--slurm)");
  batch_cmd->add_option("--max-parallel", batch.max_parallel,
                        "At most K array tasks at once (--slurm; 0 = no limit)");
  batch_cmd->add_option("--mem", batch.mem, "Memory per task's node, e.g. 16G (--slurm)");
  batch_cmd->add_option("--account", batch.account, "Slurm account to charge (--slurm)");
  batch_cmd->add_option("--qos", batch.qos, "Slurm quality of service (--slurm)");
  batch_cmd->add_option("--gres", batch.gres,
                        "Generic resources per task, e.g. gpu:a100:1 for a GPU type (--slurm)");
  batch_cmd->add_option("--sbatch-line", batch.sbatch_lines,
                        "One more #SBATCH option as --name=value, e.g. --constraint=a100 "
                        "(--slurm; repeatable)");
  batch_cmd->add_option("--setup", batch.setup_lines,
                        "A shell line each task runs before moedil, e.g. 'module load cuda' "
                        "(--slurm; repeatable, run as given)");
  batch_cmd->add_option("--requeue-before", batch.requeue_before,
                        "Seconds before the time limit at which a task stops its run (keeping "
                        "the last epoch's checkpoint) and requeues itself to resume; Slurm may "
                        "signal up to a minute early (--slurm; 0 = off)");
  batch_cmd->add_option("--run-key", batch.run_key, "internal: carry out only this run")
      ->group("");
  batch_cmd->add_option("--moedil-binary", batch.moedil_binary,
                        "internal: executable the runs are started with")
      ->group("");
  batch_cmd->add_option("--sbatch", batch.sbatch, "internal: the sbatch command")->group("");
  batch_cmd->footer(
      "Runs:    <results_dir>/<config>/<config>-g<group>-<8 hex>/run.json; a second batch skips\n"
      "         completed runs and resumes interrupted or killed ones; a run another live\n"
      "         process holds is \"running elsewhere\": waited for, then taken as it ended.\n"
      "Logs:    <log_dir>/<metaconfig>-<stamp>.log with a summary table at the end;\n"
      "         each run's console output in <log_dir>/<run key>.out.\n"
      "Exit:    0 all completed, 1 any run failed, 2 bad metaconfig or config (nothing\n"
      "         started), 130 interrupted (Ctrl-C is passed on to the runs).\n");

  StatusOptions status;
  auto* status_cmd = app.add_subcommand(
      "status", "One row per run below a results directory: progress, ETA, accuracy, errors");
  status_cmd->add_option("dir", status.dir, "Results directory (default: results)");
  status_cmd->add_flag("--watch,-w", status.watch, "Redraw every --interval seconds until Ctrl-C");
  status_cmd->add_option("--interval", status.interval_seconds, "Seconds between redraws (5)");

  EvalOptions eval;
  auto* eval_cmd = app.add_subcommand(
      "eval", "Evaluate a run's saved weights (its checkpoint.pt) again on every domain");
  eval_cmd->add_option("run_dir", eval.run_dir, "Run directory, e.g. results/quickstart/<run-id>")
      ->required();
  eval_cmd->add_option("--fixed-expert", eval.fixed_experts,
                       "LAYER:E routes every row of MoE layer LAYER (as named in run.json, e.g. "
                       "blocks.1.moe) to expert E alone (repeatable)")
      ->allow_extra_args(false);
  eval_cmd->add_option("--dump", eval.dump_dir,
                       "Also write per domain logits, labels, predictions, dataset rows and each "
                       "MoE layer's routing as NumPy .npy files into DIR (see README)")
      ->option_text("DIR");
  eval_cmd->add_flag("--dump-inputs", eval.dump_inputs,
                     "With --dump: also the normalised input images (inputs.npy, float32 NCHW)");
  eval_cmd->add_option("--device", eval.device, "auto, cpu, cuda or cuda:N");
  eval_cmd->add_option("--threads", eval.threads, "LibTorch intra-op threads (default: the CPUs this process may use)");
  eval_cmd->footer(
      "Rebuilds the run's data and model from its run.json (same config and seeds), loads the\n"
      "weights of its last finished epoch and writes <run dir>/eval.json.\n"
      "--dump DIR: DIR/index.json and DIR/domain<j>/{logits,labels,predictions,rows}.npy,\n"
      "gates.<layer>.npy and experts.<layer>.npy per MoE layer, inputs.npy with --dump-inputs.\n");

  ExportOptions export_options;
  auto* export_cmd = app.add_subcommand(
      "export", "Write a run's final weights as a PyTorch state dict (torch.load reads it)");
  export_cmd->add_option("run_dir", export_options.run_dir, "Run directory")->required();
  export_cmd->add_option("--state-dict", export_options.state_dict, "The file to write")
      ->required()
      ->option_text("FILE");
  export_cmd->add_option("--naming", export_options.naming,
                         "Tensor names: moedil (any model), torchvision (vit, resnet18, "
                         "convnext_tiny) or timm (vit)")
      ->check(CLI::IsMember({"moedil", "torchvision", "timm"}));
  export_cmd->footer(
      "Reads <run dir>/checkpoint.pt (the weights after its last finished epoch). With\n"
      "--naming torchvision, a vit, resnet18 (resnet_stem imagenet, resnet_width 64) or\n"
      "convnext_tiny loads into torchvision's model of its shape with\n"
      "load_state_dict(torch.load(FILE), strict=True). MoE models: --naming moedil only.\n");

  auto* list_cmd = app.add_subcommand(
      "list", "List the registered datasets, partition types, models and optimizers");

  ReportOptions report;
  auto* report_cmd = app.add_subcommand(
      "report", "Tables, statistics over seeds, interactive figures (Vega) and PNGs from results");
  report_cmd
      ->add_option("target", report.target,
                   "A run.json, a run directory, a results directory (e.g. results/<config>) or a "
                   "metaconfig (all runs of its configs)")
      ->required();
  report_cmd->add_option("--out", report.out,
                         "Output directory (default: <run dir>/report, <dir>/report, or "
                         "<results_dir>/report-<metaconfig name>)");
  report_cmd->add_option("--format", report.format,
                         "Comma-separated subset of md,csv,html,png. Default: md,csv,html, and "
                         "png when Chromium is installed; listing png makes it required")
      ->default_str("md,csv,html[,png]");
  report_cmd->add_flag("--predecessor-metrics", report.predecessor_metrics,
                       "Also show the predecessor's AIA, FWT and intransigence (its final values: "
                       "AIA_predecessor = ACC, FWT_predecessor = FWT_baseline, "
                       "intransigence_predecessor of the last domain only), labelled");
  report_cmd->footer(
      "Writes report.md, report.html (self-contained and interactive: Vega from Debian's\n"
      "libjs-vega inlined), runs.csv, configs.csv, class_metrics.csv, ..., and beside them each\n"
      "figure's Vega spec and tidy data (runs/<run-id>/r_matrix.vg.json, r_matrix.csv, ...);\n"
      "PNGs from the same specs with headless Chromium. Prints the summary tables.\n"
      "Runs are grouped by experiment: config name plus resolved config (seeds, device, threads\n"
      "and output folders aside); one config with several is shown as name[key=value,...].\n"
      "Only completed runs enter the statistics; running or failed ones are listed with status.\n"
      "Exit 2 when a run.json cannot be read or nothing is found (the rest is still reported);\n"
      "exit 1 when png is listed and the PNGs cannot be drawn (the rest is written).\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return 0;
    // The names CLI11 knows, for a "did you mean" on a mistyped subcommand or option.
    const auto long_names = [](const CLI::App& a) {
      std::vector<std::string> out;
      for (const CLI::Option* o : a.get_options()) {
        for (const std::string& name : o->get_lnames()) out.push_back("--" + name);
      }
      return out;
    };
    CliNames names;
    names.global = long_names(app);
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      names.subcommands[sub->get_name()] = long_names(*sub);
    }
    const std::string hint = typo_hint(std::vector<std::string>(argv + 1, argv + argc), names);
    if (!hint.empty()) std::cerr << hint << "\n";
    return 2;
  }
  // OpenBLAS's kernels, once it has said which it chose: restart the commands that compute
  // with better ones where it took this CPU for an old one; batch passes them to its runs.
  {
    const moedil::EnvGet get = &moedil::process_env;
    const std::string core = moedil::openblas_core();
    const auto blas = moedil::plan_openblas_tuning(get, core, moedil::cpu_features());
    // Remembered for the next run on this machine, which then sets it before OpenBLAS loads.
    if (*run_cmd || *eval_cmd || *batch_cmd) {
      const std::string path = moedil::blas_cache_path(get);
      const std::string key = moedil::blas_machine_key();
      if (moedil::should_remember_blas_choice(get, core, moedil::read_blas_choice(path, key))) {
        moedil::write_blas_choice(path, key, core);
      }
    }
    if (*run_cmd || *eval_cmd) moedil::restart_with(argv, environ, blas);
    if (*batch_cmd) moedil::export_changes(blas);
  }
  try {
    if (*run_cmd) return run_run(run);
    if (*validate_cmd) return run_validate(validate);
    if (*eval_cmd) return run_eval(eval);
    if (*export_cmd) return run_export(export_options);
    if (*list_cmd) return run_list();
    if (*batch_cmd) return run_batch(batch);
    if (*status_cmd) return run_status(status);
    if (*report_cmd) {
      report.format_given = report_cmd->count("--format") > 0;
      return run_report(report);
    }
  } catch (const std::exception& e) {
    moedil::io::logger()->error("{}", e.what());
    return exit_code_for(e);
  }
  return 2;
}
