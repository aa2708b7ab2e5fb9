#include "moedil/batch/runner.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <numeric>
#include <thread>

#include "moedil/batch/text.h"
#include "moedil/common/cpu_count.h"
#include "moedil/common/error.h"
#include "moedil/common/printable.h"
#include "moedil/io/run_lock.h"
#include "moedil/io/run_record.h"
#include "moedil/common/safe_file.h"

namespace moedil::batch {
namespace fs = std::filesystem;

namespace {

bool is_launch(Action a) { return a == Action::start || a == Action::resume || a == Action::retry; }

/// ACC of a run record: metrics.acc when every domain is trained, else the last epoch's mean.
std::optional<double> record_acc(const io::RunRecord& r) {
  if (r.metrics) return r.metrics->acc;
  if (r.epochs.empty() || r.epochs.back().eval.empty()) return std::nullopt;
  double sum = 0.0;
  for (const auto& e : r.epochs.back().eval) sum += e.acc;
  return sum / static_cast<double>(r.epochs.back().eval.size());
}

std::string local_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%d-%H%M%S", &tm);
  return buffer;
}

/// Moves a failed attempt to <results>/<config>/.failed/<key>-<stamp> (hidden from status).
void move_aside(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  const fs::path target_dir = dir.parent_path() / ".failed";
  fs::create_directories(target_dir, ec);
  fs::path target = target_dir / (dir.filename().string() + "-" + local_stamp());
  for (int i = 1; fs::exists(target, ec); ++i) {
    target = target_dir / (dir.filename().string() + "-" + local_stamp() + "-" + std::to_string(i));
  }
  fs::rename(dir, target, ec);
  if (ec) throw IoError("cannot move failed run '" + dir.string() + "' aside: " + ec.message());
}

/// The last non-empty line of a child's console output (at most 300 characters), or "".
std::string last_console_line(const fs::path& console) {
  std::ifstream in(console);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos && line.rfind("=== ", 0) != 0) {
      last = line;
    }
  }
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

std::string signal_text(int sig) {
  const char* name = strsignal(sig);
  return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
}

struct Child {
  pid_t pid = -1;
  std::size_t index = 0;
  std::chrono::steady_clock::time_point started;
};

/// The CPUs of slot `slot` when `jobs` slots share the allowed ones, `per_slot` each.
std::vector<int> slot_cpus(int slot, int per_slot) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  std::vector<int> allowed;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &mask)) allowed.push_back(c);
    }
  }
  std::vector<int> out;
  if (allowed.empty()) return out;
  for (int k = 0; k < per_slot; ++k) {
    out.push_back(allowed[static_cast<std::size_t>(slot * per_slot + k) % allowed.size()]);
  }
  return out;
}

/// fork + execve with stdout and stderr appended to `console` and MOEDIL_BATCH_RUN=1 in the
/// environment. Returns the child's pid.
pid_t spawn(const fs::path& exe, const std::vector<std::string>& args, const fs::path& console,
            const std::vector<int>& cpus) {
  std::error_code ec;
  if (console.has_parent_path()) fs::create_directories(console.parent_path(), ec);
  // A link planted at the .out name is refused, never followed.
  const int fd = open_append_no_follow(console);
  const std::string header =
      "=== " + io::utc_now_iso() + " " + display_command(exe, args) + "\n";
  (void)!::write(fd, header.data(), header.size());

  std::vector<std::string> storage;
  storage.push_back(exe.string());
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  // The environment, with MOEDIL_BATCH_RUN=1: the run leaves notifications to the batch
  // (config "notify"), which sends one summary.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "MOEDIL_BATCH_RUN=", 17) != 0) env_storage.emplace_back(*e);
  }
  env_storage.emplace_back("MOEDIL_BATCH_RUN=1");
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) CPU_SET(c, &set);

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw IoError(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until execv.
    ::setpgid(0, 0);  // the terminal's Ctrl-C reaches the batch, which forwards it
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (!cpus.empty()) ::sched_setaffinity(0, sizeof set, &set);
    ::execve(argv[0], argv.data(), envp.data());
    const char* msg = "moedil batch: cannot execute the moedil binary\n";
    (void)!::write(STDERR_FILENO, msg, std::strlen(msg));
    ::_exit(127);
  }
  ::close(fd);
  return pid;
}

void finish(RunOutcome& out, const PlannedRun& run, int wait_status, const fs::path& console) {
  if (WIFEXITED(wait_status)) {
    out.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    out.exit_code = 128 + WTERMSIG(wait_status);
  }
  std::optional<io::RunRecord> record;
  std::string read_error;
  const fs::path json = run.run_dir / "run.json";
  std::error_code ec;
  if (fs::exists(json, ec)) {
    try {
      record = io::read_run_record(json.string(), io::RecordParts::epochs);
      out.acc = record_acc(*record);
    } catch (const std::exception& e) {
      read_error = e.what();
    }
  }
  const std::string last = last_console_line(console);
  const std::string see =
      (last.empty() ? "" : ": " + last) + " (console output: " + console.string() + ")";
  if (out.exit_code == 0) {
    if (record && record->run.status == "completed") {
      out.status = "completed";
    } else {
      out.status = "failed";
      out.error = "exited 0 but run.json " +
                  (record ? "says '" + record->run.status + "'"
                          : read_error.empty() ? std::string("is missing") : read_error);
    }
  } else if (out.exit_code == 130 || out.exit_code == 143 || out.exit_code == 128 + SIGINT ||
             out.exit_code == 128 + SIGTERM) {
    out.status = "interrupted";
    out.error = record && !record->run.error.empty() ? record->run.error : "interrupted";
  } else {
    out.status = "failed";
    if (record && !record->run.error.empty() && record->run.status != "completed") {
      out.error = record->run.error;
    } else if (WIFSIGNALED(wait_status)) {
      out.error = signal_text(WTERMSIG(wait_status)) + see;
    } else {
      out.error = "exit code " + std::to_string(out.exit_code) + see;
    }
  }
}

}  // namespace

const char* action_name(Action a) {
  switch (a) {
    case Action::start: return "start";
    case Action::resume: return "resume";
    case Action::retry: return "retry";
    case Action::skip_completed: return "skip (completed)";
    case Action::skip_live: return "wait (running elsewhere)";
    case Action::skip_failed: return "skip (failed; --retry-failed reruns it)";
  }
  return "?";
}

RunState decide(const PlannedRun& run, bool retry_failed) {
  RunState state;
  if (io::run_is_live(run.run_dir)) {
    state.action = Action::skip_live;
    state.status = kRunningElsewhere;
    return state;
  }
  const fs::path json = run.run_dir / "run.json";
  std::error_code ec;
  if (!fs::exists(json, ec)) {
    state.action = Action::start;
    return state;
  }
  try {
    const io::RunRecord record = io::read_run_record(json.string(), io::RecordParts::summary);
    state.status = record.run.status;
    state.error = record.run.error;
  } catch (const std::exception& e) {
    state.status = "unreadable";
    state.error = e.what();
  }
  if (state.status == "completed") {
    state.action = Action::skip_completed;
  } else if (state.status == "running" || state.status == "interrupted") {
    state.action = Action::resume;  // "running" with a free lock: the process was killed
  } else {
    state.action = retry_failed ? Action::retry : Action::skip_failed;
  }
  return state;
}

std::vector<std::string> parse_devices(const std::string& spec) {
  std::vector<std::string> out;
  if (spec.empty()) return out;
  std::size_t begin = 0;
  while (begin <= spec.size()) {
    const std::size_t end = std::min(spec.find(',', begin), spec.size());
    const std::string item = spec.substr(begin, end - begin);
    const bool digits = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
    const bool cuda_n = item.rfind("cuda:", 0) == 0 && item.size() > 5 &&
                        item.find_first_not_of("0123456789", 5) == std::string::npos;
    if (digits) {
      out.push_back("cuda:" + item);
    } else if (item == "cpu" || item == "cuda" || cuda_n) {
      out.push_back(item);
    } else {
      throw UsageError("--devices: '" + item +
                       "' is not a device; use cpu, or GPU numbers such as 0,1 (or cuda:N)");
    }
    begin = end + 1;
  }
  return out;
}

int available_cores() { return static_cast<int>(affinity_cpus()); }

std::vector<std::string> command_for(const PlannedRun& run, Action action, int threads,
                                     const std::string& device,
                                     const std::function<int64_t()>& draw) {
  std::vector<std::string> args{"run"};
  if (action == Action::resume) {
    args.insert(args.end(), {"--resume", run.run_dir.string()});
  } else {
    args.insert(args.end(), {run.config_path, "--run-dir", run.run_dir.string()});
    for (const auto& o : run.overrides) args.insert(args.end(), {"--set", o});
    for (const auto& o : seed_overrides(run, draw)) args.insert(args.end(), {"--set", o});
  }
  args.insert(args.end(), {"--threads", std::to_string(std::max(1, threads))});
  if (!device.empty()) args.insert(args.end(), {"--device", device});
  return args;
}

std::vector<RunOutcome> dry_run(const std::vector<PlannedRun>& plan, const RunnerOptions& options) {
  std::vector<RunOutcome> outcomes;
  const int jobs = std::max(1, options.jobs);
  const int cores = options.cores > 0 ? options.cores : available_cores();
  const int threads = std::max(1, cores / jobs);
  std::size_t launched = 0;
  for (const PlannedRun& run : plan) {
    const RunState state = decide(run, options.retry_failed);
    RunOutcome out;
    out.index = run.index;
    out.key = run.key;
    out.config = run.config_path;
    out.group = run.group;
    out.action = state.action;
    out.status = is_launch(state.action) ? "planned" : state.status;
    out.error = state.error;
    if (is_launch(state.action)) {
      const std::string device =
          options.devices.empty() ? "" : options.devices[launched % options.devices.size()];
      // Unseeded kinds are drawn when the run starts; the dry run shows them as "random".
      out.command = command_for(run, state.action, threads, device, [] { return int64_t{0}; });
      for (auto& a : out.command) {
        if (a.rfind("seeds.", 0) == 0 && a.size() > 2 && a.substr(a.size() - 2) == "=0") {
          a = a.substr(0, a.size() - 1) + "random";
        }
      }
      ++launched;
    }
    outcomes.push_back(std::move(out));
  }
  return outcomes;
}

std::vector<RunOutcome> execute(const std::vector<PlannedRun>& plan, const RunnerOptions& options,
                                const std::atomic<bool>& stop, const RunEvent& on_event) {
  const int jobs = std::max(1, options.jobs);
  const int cores = options.cores > 0 ? options.cores : available_cores();
  const int threads = std::max(1, cores / jobs);
  std::vector<RunOutcome> outcomes(plan.size());
  std::vector<std::size_t> queue;
  std::vector<std::size_t> waiting;  // runs a live process elsewhere holds now
  const auto read_acc = [](const PlannedRun& run) -> std::optional<double> {
    try {
      return record_acc(
          io::read_run_record((run.run_dir / "run.json").string(), io::RecordParts::epochs));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  // Applies a decision that needs no launch (skipped, or held elsewhere) to an outcome.
  const auto settle = [&](const PlannedRun& run, const RunState& state) {
    RunOutcome& out = outcomes[run.index];
    out.status = state.status;
    out.error = state.error;
    if (state.action == Action::skip_live) {
      out.status = kRunningElsewhere;
      out.error.clear();
      waiting.push_back(run.index);
      if (on_event) on_event("wait", out);
    } else if (state.action == Action::skip_completed) {
      out.acc = read_acc(run);
    }
  };
  for (const PlannedRun& run : plan) {
    RunOutcome& out = outcomes[run.index];
    const RunState state = decide(run, options.retry_failed);
    out.index = run.index;
    out.key = run.key;
    out.config = run.config_path;
    out.group = run.group;
    out.action = state.action;
    if (is_launch(state.action)) {
      queue.push_back(run.index);
      out.status = "pending";
    } else {
      settle(run, state);
    }
  }

  std::vector<std::optional<Child>> slots(static_cast<std::size_t>(jobs));
  std::size_t next = 0;
  bool forwarded = false;
  auto last_wait_check = std::chrono::steady_clock::now();
  const auto console_of = [&](const PlannedRun& run) {
    return options.console_dir / (run.key + ".out");
  };
  const auto running = [&] {
    return std::count_if(slots.begin(), slots.end(), [](const auto& s) { return s.has_value(); });
  };

  while (true) {
    // Fill free slots. Each run is decided again right before it starts: another batch may
    // have started, finished or left it since the plan was made.
    for (std::size_t s = 0; s < slots.size(); ++s) {
      while (!slots[s] && !stop.load() && next < queue.size()) {
        const PlannedRun& run = plan[queue[next++]];
        RunOutcome& out = outcomes[run.index];
        const RunState now = decide(run, options.retry_failed && out.action == Action::retry);
        out.action = now.action;
        if (!is_launch(now.action)) {
          settle(run, now);
          if (now.action != Action::skip_live && on_event) on_event("end", out);
          continue;
        }
        const std::string device =
            options.devices.empty() ? "" : options.devices[s % options.devices.size()];
        try {
          if (out.action == Action::retry) move_aside(run.run_dir);
          out.command = command_for(run, out.action, threads, device, options.draw_seed);
          const std::vector<int> cpus =
              options.pin_cores && jobs > 1 ? slot_cpus(static_cast<int>(s), threads)
                                            : std::vector<int>{};
          Child child;
          child.index = run.index;
          child.started = std::chrono::steady_clock::now();
          child.pid = spawn(options.moedil, out.command, console_of(run), cpus);
          slots[s] = child;
          out.status = "running";
          out.error.clear();
          if (on_event) on_event("start", out);
        } catch (const std::exception& e) {
          out.status = "failed";
          out.error = e.what();
          if (on_event) on_event("end", out);
        }
      }
    }
    // Runs held elsewhere: once their holder is gone, what it left decides (completed, failed,
    // or to be resumed here).
    const auto now_time = std::chrono::steady_clock::now();
    if (!waiting.empty() && !stop.load() &&
        now_time - last_wait_check >= std::chrono::duration<double>(options.wait_poll_seconds)) {
      last_wait_check = now_time;
      std::vector<std::size_t> still;
      for (const std::size_t index : waiting) {
        const PlannedRun& run = plan[index];
        RunOutcome& out = outcomes[index];
        const RunState state = decide(run, false);
        if (state.action == Action::skip_live) {
          still.push_back(index);
        } else if (is_launch(state.action)) {
          out.action = state.action;
          out.status = "pending";
          queue.push_back(index);
        } else {
          out.status = state.status;
          out.error = state.error;
          if (state.action == Action::skip_completed) out.acc = read_acc(run);
          if (on_event) on_event("end", out);
        }
      }
      waiting = std::move(still);
    }
    if (running() == 0 && (stop.load() || (next >= queue.size() && waiting.empty()))) break;

    if (stop.load() && !forwarded) {
      for (const auto& slot : slots) {
        if (slot) ::kill(slot->pid, SIGINT);
      }
      forwarded = true;
    }

    int wait_status = 0;
    const pid_t pid = ::waitpid(-1, &wait_status, WNOHANG);
    if (pid > 0) {
      for (auto& slot : slots) {
        if (!slot || slot->pid != pid) continue;
        const PlannedRun& run = plan[slot->index];
        RunOutcome& out = outcomes[slot->index];
        out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                         slot->started)
                               .count();
        finish(out, run, wait_status, console_of(run));
        if (out.status == "failed") {
          // The child may have lost the run to another live process (two batches of one
          // metaconfig): then the run is that process's, not a failure here.
          const RunState state = decide(run, false);
          if (state.action == Action::skip_live) {
            out.status = kRunningElsewhere;
            out.error.clear();
            waiting.push_back(slot->index);
            if (on_event) on_event("wait", out);
            slot.reset();
            continue;
          }
          if (state.action == Action::skip_completed) {
            out.status = "completed";
            out.error.clear();
            out.acc = read_acc(run);
          }
        }
        if (on_event) on_event("end", out);
        slot.reset();
      }
      continue;
    }
    if (pid < 0 && errno != EINTR && errno != ECHILD) {
      throw IoError(std::string("waitpid failed: ") + std::strerror(errno));
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_seconds));
  }
  // Runs never started because of a stop request stay "not started".
  for (std::size_t i = next; i < queue.size(); ++i) {
    outcomes[queue[i]].status = "not started";
  }
  return outcomes;
}

std::string format_summary(const std::vector<RunOutcome>& outcomes) {
  std::vector<std::vector<std::string>> rows;
  std::size_t completed = 0, failed = 0, other = 0;
  for (const RunOutcome& o : outcomes) {
    char acc[16] = "-";
    if (o.acc) std::snprintf(acc, sizeof acc, "%.4f", *o.acc);
    const bool launched = is_launch(o.action);
    const std::string action = launched ? action_name(o.action)
                               : o.action == Action::skip_completed ? "skip"
                               : o.action == Action::skip_live      ? "wait (live)"
                                                                    : "skip";
    rows.push_back({o.key, o.name.empty() ? o.config : o.name, "g" + std::to_string(o.group), action,
                    o.status.empty() ? "-" : o.status, acc,
                    launched && o.wall_seconds > 0 ? format_duration(o.wall_seconds) : "-"});
    if (o.status == "completed") {
      ++completed;
    } else if (o.status == "failed" || o.status == "unreadable") {
      ++failed;
    } else {
      ++other;
    }
  }
  std::string out = format_table({"RUN", "CONFIG", "GROUP", "ACTION", "STATUS", "ACC", "WALL"}, rows);
  out += std::to_string(outcomes.size()) + " runs: " + std::to_string(completed) +
         " completed, " + std::to_string(failed) + " failed, " + std::to_string(other) +
         " other\n";
  for (const RunOutcome& o : outcomes) {
    if ((o.status == "failed" || o.status == "unreadable") && !o.error.empty()) {
      out += "failed " + o.key + ": " + printable(o.error) + "\n";
    }
  }
  return out;
}

bool any_failed(const std::vector<RunOutcome>& outcomes) {
  return std::any_of(outcomes.begin(), outcomes.end(), [](const RunOutcome& o) {
    return o.status == "failed" || o.status == "unreadable";
  });
}

std::string display_command(const fs::path& exe, const std::vector<std::string>& args) {
  std::string out = shell_quote(exe.string());
  for (const auto& a : args) out += " " + shell_quote(a);
  return out;
}

}  // namespace moedil::batch
