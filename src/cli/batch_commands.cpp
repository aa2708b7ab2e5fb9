// `moedil batch` and `moedil status`: the CLI side of the batch area (include/moedil/batch).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <sstream>
#include <thread>

#include <spdlog/logger.h>

#include "moedil/batch/metaconfig.h"
#include "moedil/batch/run_names.h"
#include "moedil/batch/runner.h"
#include "moedil/batch/slurm.h"
#include "moedil/batch/notify.h"
#include "moedil/batch/status.h"
#include "moedil/batch/text.h"
#include "moedil/cli/commands.h"
#include "moedil/common/error.h"
#include "moedil/config/load.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"
#include "moedil/train/experiment.h"
#include "moedil/train/footprint.h"

namespace moedil::cli {
namespace {
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop.store(true); }

/// SIGINT and SIGTERM set g_stop; without SA_RESTART so sleeps and waits return early.
void install_stop_handlers() {
  g_stop.store(false);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string local_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &tm);
  return buffer;
}

fs::path self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw IoError("cannot find the moedil executable (/proc/self/exe): " + ec.message());
  return p;
}

/// Loads the metaconfig and validates every listed config with its overrides: every problem of
/// the whole batch is reported at once (ConfigError, exit 2) before anything starts.
batch::Metaconfig load_and_validate(const std::string& path, const std::string& configs_dir) {
  const config::NameCatalog catalog = train::name_catalog();
  return batch::load_metaconfig(path, [&](batch::ConfigEntry& entry,
                                          std::vector<std::string>& problems) {
    try {
      const config::RunConfig c = config::load_run_config(entry.path, entry.overrides, catalog);
      train::check_memory(c, entry.path);
      entry.results_dir = c.results_dir;
    } catch (const std::exception& e) {
      problems.push_back("config '" + entry.path + "' is not valid:\n    " +
                         [&] {
                           std::string m = e.what();
                           std::string out;
                           for (char ch : m) out += ch == '\n' ? std::string("\n    ") : std::string(1, ch);
                           return out;
                         }());
    }
  }, configs_dir);
}

void log_lines(const std::string& text) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) io::logger()->info("{}", line);
}

int exit_code_of(const std::vector<batch::RunOutcome>& outcomes, bool stopped) {
  if (stopped) return 130;
  return batch::any_failed(outcomes) ? 1 : 0;
}

int run_one_key(const batch::Metaconfig& meta, const std::vector<batch::PlannedRun>& plan,
                batch::RunnerOptions runner, const std::string& key) {
  const batch::PlannedRun* found = nullptr;
  for (const auto& r : plan) {
    if (r.key == key) found = &r;
  }
  if (!found) {
    throw UsageError("no run with key '" + key + "' in " + meta.source +
                     " (was the metaconfig edited after the job was submitted?)");
  }
  runner.jobs = 1;
  if (const char* cpus = std::getenv("SLURM_CPUS_PER_TASK")) runner.cores = std::atoi(cpus);
  batch::PlannedRun only = *found;
  only.index = 0;
  io::logger()->info("[batch] {}: run {} ({} group {})", meta.source, only.key, only.config_path,
                     only.group);
  auto outcomes = batch::execute({only}, runner, g_stop, [&](const char* event, const batch::RunOutcome& o) {
    if (std::string(event) == "start") {
      io::logger()->info("[batch] {} {}: {}", batch::action_name(o.action), o.key,
                         batch::display_command(runner.moedil, o.command));
    }
  });
  outcomes.at(0).name = batch::planned_group_names(plan).at(found->index);
  log_lines(batch::format_summary(outcomes));
  return exit_code_of(outcomes, g_stop.load());
}

int submit_slurm(const BatchOptions& options, const batch::Metaconfig& meta,
                 const std::vector<batch::PlannedRun>& plan, const std::string& stamp) {
  std::vector<std::string> keys;
  for (const auto& r : plan) {
    const batch::RunState s = batch::decide(r, options.retry_failed);
    io::logger()->info("[batch] {}  {}", r.key, batch::action_name(s.action));
    if (s.action == batch::Action::start || s.action == batch::Action::resume ||
        s.action == batch::Action::retry) {
      keys.push_back(r.key);
    }
  }
  if (keys.empty()) {
    io::logger()->info("[batch] nothing to submit: every run is completed, failed or running");
    return 0;
  }
  batch::SlurmOptions so;
  so.partition = options.partition;
  so.time = options.time;
  so.gpus_per_task = options.gpus_per_task;
  so.cpus_per_task = options.cpus_per_task;
  so.max_parallel = options.max_parallel;
  so.moedil = options.moedil_binary.empty() ? self_executable() : fs::absolute(options.moedil_binary);
  so.metaconfig = fs::absolute(options.metaconfig_path);
  so.workdir = fs::current_path();
  so.log_dir = fs::absolute(meta.log_dir);
  so.job_name = "moedil-" + meta.name;
  so.devices = options.devices;
  so.configs_dir = options.configs_dir;
  so.retry_failed = options.retry_failed;
  so.mem = options.mem;
  so.account = options.account;
  so.qos = options.qos;
  so.gres = options.gres;
  so.sbatch_lines = options.sbatch_lines;
  so.setup_lines = options.setup_lines;
  so.requeue_before = options.requeue_before;
  const std::string script = batch::sbatch_script(so, keys);
  const fs::path script_path = fs::path(meta.log_dir) / (meta.name + "-" + stamp + ".sbatch");
  io::write_file_atomic(script_path, script);
  fs::permissions(script_path, fs::perms::owner_exec, fs::perm_options::add);
  if (options.dry_run) {
    io::logger()->info("[batch] dry run: wrote {} ({} tasks), not submitted", script_path.string(),
                       keys.size());
    std::cout << script;
    return 0;
  }
  const std::string job = batch::submit_sbatch(script_path, options.sbatch);
  io::logger()->info("[batch] submitted Slurm job array {} ({} tasks) from {}; task logs {}/{}-{}_<task>.out",
                     job, keys.size(), script_path.string(), so.log_dir.string(), so.job_name, job);
  io::logger()->info("[batch] follow it with: moedil status {}",
                     meta.results_dir ? *meta.results_dir : std::string("results"));
  std::cout << job << "\n";
  return 0;
}

}  // namespace

int run_batch(const BatchOptions& options) {
  if (options.jobs < 1) throw UsageError("--jobs must be at least 1");
  const batch::Metaconfig meta = load_and_validate(options.metaconfig_path, options.configs_dir);
  const std::vector<batch::PlannedRun> plan = batch::expand(meta);

  batch::RunnerOptions runner;
  runner.moedil = options.moedil_binary.empty() ? self_executable()
                                                : fs::absolute(options.moedil_binary);
  runner.jobs = options.jobs;
  runner.devices = batch::parse_devices(options.devices);
  runner.retry_failed = options.retry_failed;
  runner.console_dir = meta.log_dir;
  install_stop_handlers();

  if (!options.run_key.empty()) return run_one_key(meta, plan, runner, options.run_key);

  const std::string stamp = local_stamp();
  if (options.slurm) return submit_slurm(options, meta, plan, stamp);

  if (options.dry_run) {
    const auto outcomes = batch::dry_run(plan, runner);
    const std::vector<std::string> names = batch::planned_group_names(plan);
    std::vector<std::vector<std::string>> rows;
    for (const auto& o : outcomes) {
      rows.push_back({o.key, names.at(o.index), batch::action_name(o.action),
                      o.command.empty() ? "" : batch::display_command(runner.moedil, o.command)});
    }
    std::cout << batch::format_table({"RUN", "CONFIG", "ACTION", "COMMAND"}, rows);
    std::cout << plan.size() << " runs planned; nothing started (dry run)\n";
    return 0;
  }

  const fs::path log_path = fs::path(meta.log_dir) / (meta.name + "-" + stamp + ".log");
  const auto sink = io::attach_log_file(log_path);
  auto log = io::logger();
  log->info("[batch] {}: {} configs x {} seed groups = {} runs, {} at a time, batch log {}",
            meta.source, meta.configs.size(), meta.num_groups, plan.size(), runner.jobs,
            log_path.string());
  std::vector<batch::RunOutcome> outcomes;
  const auto batch_start = std::chrono::steady_clock::now();
  try {
    outcomes = batch::execute(plan, runner, g_stop, [&](const char* event, const batch::RunOutcome& o) {
      if (std::string(event) == "start") {
        log->info("[batch] {} {} (g{}): {}", batch::action_name(o.action), o.key, o.group,
                  batch::display_command(runner.moedil, o.command));
      } else if (std::string(event) == "wait") {
        log->info("[batch] {} is running elsewhere (another live process holds it); waiting "
                  "for it to end", o.key);
      } else if (o.status == "completed") {
        log->info("[batch] completed {} in {}", o.key, batch::format_duration(o.wall_seconds));
      } else {
        log->warn("[batch] {} {}: {}", o.status, o.key, o.error);
      }
    });
  } catch (...) {
    io::detach_log_file(sink);
    throw;
  }
  if (g_stop.load()) log->warn("[batch] interrupted: running runs were stopped, the rest not started");
  const std::vector<std::string> names = batch::planned_group_names(plan);
  for (batch::RunOutcome& o : outcomes) o.name = names.at(o.index);
  log_lines(batch::format_summary(outcomes));
  batch::notify_batch_end(
      meta.notify, meta.name, outcomes, g_stop.load(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - batch_start).count());
  io::detach_log_file(sink);
  return exit_code_of(outcomes, g_stop.load());
}

int run_status(const StatusOptions& options) {
  if (!fs::is_directory(options.dir)) {
    throw UsageError("no results directory '" + options.dir + "'");
  }
  if (!options.watch) {
    std::cout << batch::format_status(batch::collect_status(options.dir));
    return 0;
  }
  if (!(options.interval_seconds > 0)) throw UsageError("--interval must be positive");
  install_stop_handlers();
  const bool tty = ::isatty(STDOUT_FILENO);
  while (!g_stop.load()) {
    if (tty) std::cout << "\033[H\033[2J";
    std::cout << batch::format_status(batch::collect_status(options.dir)) << std::flush;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration<double>(options.interval_seconds);
    while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!tty) std::cout << "\n";
  }
  return 0;
}

}  // namespace moedil::cli
