#include "moedil/common/cpu_tuning.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace moedil {

namespace {

bool is_set(EnvGet get, const char* name) { return get(name) != nullptr; }

/// MOEDIL_NO_TUNE set to anything but "" or "0". (A restarted process, and the runs a batch
/// starts, have every planned variable set already, so they plan nothing: no loop.)
bool leave_alone(EnvGet get) {
  const char* no_tune = get("MOEDIL_NO_TUNE");
  return no_tune != nullptr && no_tune[0] != '\0' && std::strcmp(no_tune, "0") != 0;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// OpenBLAS's x86 cores whose kernels predate AVX2 (its corename strings). A CPU it does not
/// know is taken for one of these.
bool predates_avx2(const std::string& core) {
  static constexpr const char* kOld[] = {
      "Katmai",    "Coppermine", "Northwood", "Prescott", "Banias",  "Atom",
      "Core2",     "Penryn",     "Dunnington", "Nehalem", "Sandybridge", "Opteron",
      "Opteron_SSE3", "Barcelona", "Nano",     "Bobcat",  "Bulldozer", "Piledriver",
      "Athlon",    "Unknown"};
  for (const char* old : kOld) {
    if (equals_ignoring_case(core, old)) return true;
  }
  return false;
}

/// `before` (a kTuningVariable value) extended by "NAME=VALUE (why)" for each change.
std::string extended_note(std::string note, const std::vector<EnvChange>& changes) {
  for (const EnvChange& c : changes) {
    if (!note.empty()) note += "; ";
    note += c.name + "=" + c.value + " (" + c.why + ")";
  }
  return note;
}

}  // namespace

std::vector<EnvChange> plan_openmp_tuning(EnvGet get) {
  if (leave_alone(get) || is_set(get, "OMP_WAIT_POLICY") || is_set(get, "GOMP_SPINCOUNT")) {
    return {};
  }
  return {{"GOMP_SPINCOUNT", kSpinCount,
           "OpenMP workers sleep after a short spin, so runs sharing the cores do not stall each "
           "other; set OMP_WAIT_POLICY or GOMP_SPINCOUNT to choose"}};
}

CpuFeatures cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the OS's support for the registers (XGETBV).
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

std::string openblas_core() {
  using CoreName = char* (*)();
  // Looked up, not linked: a LibTorch with MKL (the CUDA wheels) has no OpenBLAS.
  auto* fn = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (fn == nullptr) return "";
  const char* name = fn();
  return name != nullptr ? std::string(name) : std::string();
}

std::vector<EnvChange> plan_openblas_tuning(EnvGet get, const std::string& chosen,
                                            const CpuFeatures& cpu) {
  if (leave_alone(get) || is_set(get, "OPENBLAS_CORETYPE") || chosen.empty()) return {};
  const bool old = predates_avx2(chosen) && cpu.avx2_fma;
  const bool avx2_kernels = (equals_ignoring_case(chosen, "Haswell") ||
                             equals_ignoring_case(chosen, "Zen")) && cpu.avx512;
  if (!old && !avx2_kernels) return {};
  const std::string core = cpu.avx512 ? "SkylakeX" : "Haswell";
  if (avx2_kernels) {
    return {{"OPENBLAS_CORETYPE", core,
             "OpenBLAS chose its AVX2 kernels (" + chosen +
                 ") for this AVX-512 CPU; its AVX-512 ones are faster"}};
  }
  return {{"OPENBLAS_CORETYPE", core,
           "OpenBLAS took this " + std::string(cpu.avx512 ? "AVX-512" : "AVX2") + " CPU for " +
               chosen + " and would run that core's older, slower kernels"}};
}

std::vector<std::string> tuned_environment(const char* const* env,
                                           const std::vector<EnvChange>& changes) {
  std::vector<std::string> out;
  std::string before;
  const auto replaced = [&changes](std::string_view entry) {
    const std::size_t eq = entry.find('=');
    const std::string_view name = entry.substr(0, eq);
    if (name == kTuningVariable) return true;
    for (const EnvChange& c : changes) {
      if (name == c.name) return true;
    }
    return false;
  };
  for (const char* const* e = env; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.rfind(std::string(kTuningVariable) + "=", 0) == 0) {
      before = std::string(entry.substr(std::strlen(kTuningVariable) + 1));
    }
    if (!replaced(entry)) out.emplace_back(entry);
  }
  for (const EnvChange& c : changes) out.push_back(c.name + "=" + c.value);
  const std::string note = extended_note(before, changes);
  if (!note.empty()) out.push_back(std::string(kTuningVariable) + "=" + note);
  return out;
}

void restart_with(char* const* argv, const char* const* env,
                  const std::vector<EnvChange>& changes) {
  if (changes.empty() || argv == nullptr || argv[0] == nullptr) return;
  try {
    const std::vector<std::string> entries = tuned_environment(env, changes);
    std::vector<char*> envp;
    envp.reserve(entries.size() + 1);
    for (const std::string& e : entries) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    // The program's own path, not /proc/self/exe: the kernel names the process after the
    // path's last part, and ps, pgrep and killall should still see "moedil".
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const char* path = "/proc/self/exe";
    if (n > 0) {
      self[n] = '\0';
      const std::string_view text(self, static_cast<std::size_t>(n));
      constexpr std::string_view kDeleted = " (deleted)";
      const bool deleted = text.size() >= kDeleted.size() &&
                           text.substr(text.size() - kDeleted.size()) == kDeleted;
      if (!deleted) path = self;
    }
    execve(path, argv, envp.data());
  } catch (...) {  // allocation failure: go on untuned, as when execve fails
  }
}

std::string blas_cache_path(EnvGet get) {
  const char* xdg = get("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/moedil/cpu-tuning";
  const char* home = get("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/moedil/cpu-tuning";
  return "";
}

namespace {

/// The path of the first loaded object whose file name starts with "libopenblas".
int find_openblas(struct dl_phdr_info* info, std::size_t, void* data) {
  const char* name = info->dlpi_name;
  if (name == nullptr) return 0;
  const char* base = std::strrchr(name, '/');
  base = base != nullptr ? base + 1 : name;
  if (std::strncmp(base, "libopenblas", 11) != 0) return 0;
  *static_cast<std::string*>(data) = name;
  return 1;
}

}  // namespace

std::string blas_machine_key() {
  std::string library;
  dl_iterate_phdr(&find_openblas, &library);
  struct stat st {};
  if (library.empty() || stat(library.c_str(), &st) != 0) return "";
  unsigned signature = 0;
#if defined(__x86_64__) || defined(__i386__)
  unsigned b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &signature, &b, &c, &d) == 0) signature = 0;
#endif
  const CpuFeatures cpu = cpu_features();
  return "cpu " + std::to_string(signature) + (cpu.avx2_fma ? " avx2" : "") +
         (cpu.avx512 ? " avx512" : "") + " blas " + library + " " +
         std::to_string(static_cast<long long>(st.st_size)) + " " +
         std::to_string(static_cast<long long>(st.st_mtime));
}

std::optional<std::string> read_blas_choice(const std::string& path, const std::string& key) {
  if (path.empty() || key.empty()) return std::nullopt;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  char buffer[4096];
  std::size_t size = 0;
  for (ssize_t n = 0; size < sizeof buffer;) {
    n = read(fd, buffer + size, sizeof buffer - size);
    if (n <= 0) break;
    size += static_cast<std::size_t>(n);
  }
  close(fd);
  // One line: "<key>\t<core>\n"; a longer file is not one moedil wrote.
  const std::string_view text(buffer, size);
  if (size == sizeof buffer || text.empty() || text.back() != '\n') return std::nullopt;
  const std::size_t tab = text.rfind('\t');
  if (tab == std::string_view::npos || text.substr(0, tab) != key) return std::nullopt;
  const std::string_view core = text.substr(tab + 1, text.size() - tab - 2);
  for (const char ch : core) {
    const bool word = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '_';
    if (!word) return std::nullopt;
  }
  return std::string(core);
}

bool write_blas_choice(const std::string& path, const std::string& key, const std::string& core) {
  if (path.empty() || key.empty() || key.find_first_of("\t\n") != std::string::npos) return false;
  // mkdir -p of the file's directory.
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const std::string line = key + "\t" + core + "\n";
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool closed = close(fd) == 0;
  if (!written || !closed || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

std::vector<EnvChange> plan_at_start(EnvGet get, const std::optional<std::string>& remembered_core,
                                     const CpuFeatures& cpu) {
  std::vector<EnvChange> changes = plan_openmp_tuning(get);
  if (remembered_core) {
    for (EnvChange& c : plan_openblas_tuning(get, *remembered_core, cpu)) {
      c.why += "; remembered from an earlier run on this machine";
      changes.push_back(std::move(c));
    }
  }
  return changes;
}

bool should_remember_blas_choice(EnvGet get, const std::string& core,
                                 const std::optional<std::string>& remembered) {
  if (leave_alone(get) || is_set(get, "OPENBLAS_CORETYPE") || core.empty()) return false;
  return !remembered || *remembered != core;
}

std::string blas_kernels_forced_by_user(EnvGet get) {
  const char* core = get("OPENBLAS_CORETYPE");
  if (core == nullptr) return "";
  const char* note = get(kTuningVariable);
  if (note != nullptr && std::strstr(note, "OPENBLAS_CORETYPE=") != nullptr) return "";
  return std::string("OPENBLAS_CORETYPE=") + core + " in the environment";
}

bool openmp_tuning_applies(int argc, const char* const* argv) {
  if (argc < 2 || argv == nullptr || argv[1] == nullptr) return false;
  const std::string_view sub(argv[1]);
  return sub == "run" || sub == "eval" || sub == "batch";
}

std::vector<LentSlot> lend_environment_slots(char** env, const std::vector<char*>& entries) {
  if (env == nullptr || entries.empty()) return {};
  const auto lendable = [](const char* entry) {
    const std::string_view text(entry);
    const std::string_view name = text.substr(0, text.find('='));
    if (name.size() == text.size()) return false;  // no '=': not a variable
    for (const char* v : kLendableVariables) {
      if (name == v) return true;
    }
    return false;
  };
  std::vector<LentSlot> loans;
  for (std::size_t i = 0; env[i] != nullptr && loans.size() < entries.size(); ++i) {
    if (lendable(env[i])) loans.push_back({i, env[i], entries[loans.size()]});
  }
  if (loans.size() < entries.size()) return {};
  for (const LentSlot& loan : loans) env[loan.index] = loan.lent;
  return loans;
}

void return_environment_slots(char** env, char** current, const std::vector<LentSlot>& loans) {
  for (char** array : {env, current == env ? nullptr : current}) {
    for (char** e = array; e != nullptr && *e != nullptr; ++e) {
      for (const LentSlot& loan : loans) {
        if (*e == loan.lent) *e = loan.original;
      }
    }
  }
}

namespace {

char** preinit_env = nullptr;

/// What tune_openmp_at_preinit lent until main: the settings, their "NAME=VALUE" texts (the
/// lent entries point into them) and the slots. A pointer in .bss: constant-initialised, so
/// the C++ runtime's start, which comes after the preinit function, leaves it alone.
struct PreinitLoan {
  char** env = nullptr;
  std::vector<EnvChange> changes;
  std::vector<std::string> texts;
  std::vector<LentSlot> slots;
};
PreinitLoan* preinit_loan = nullptr;

/// Lends slots of `envp` to `changes`; false (nothing lent) when there are too few.
bool lend_at_preinit(char** envp, const std::vector<EnvChange>& changes) {
  auto loan = std::make_unique<PreinitLoan>();
  loan->env = envp;
  loan->changes = changes;
  for (const EnvChange& c : changes) loan->texts.push_back(c.name + "=" + c.value);
  std::vector<char*> entries;
  for (std::string& t : loan->texts) entries.push_back(t.data());
  loan->slots = lend_environment_slots(envp, entries);
  if (loan->slots.empty()) return false;
  preinit_loan = loan.release();
  return true;
}

const char* preinit_getenv(const char* name) {
  const std::size_t n = std::strlen(name);
  for (char** e = preinit_env; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  }
  return nullptr;
}

}  // namespace

void tune_openmp_at_preinit(int argc, char** argv, char** envp) {
  if (!openmp_tuning_applies(argc, argv)) return;
  preinit_env = envp;
  try {
    std::optional<std::string> remembered;
    if (!leave_alone(&preinit_getenv) && !is_set(&preinit_getenv, "OPENBLAS_CORETYPE")) {
      remembered = read_blas_choice(blas_cache_path(&preinit_getenv), blas_machine_key());
    }
    const std::vector<EnvChange> changes =
        plan_at_start(&preinit_getenv, remembered, cpu_features());
    if (changes.empty() || lend_at_preinit(envp, changes)) return;
    restart_with(argv, envp, changes);
  } catch (...) {  // allocation failure before main: go on untuned, as when execve fails
  }
}

void settle_tuning_at_main() {
  if (preinit_loan == nullptr) return;
  const std::unique_ptr<PreinitLoan> loan(preinit_loan);
  preinit_loan = nullptr;
  return_environment_slots(loan->env, environ, loan->slots);
  export_changes(loan->changes);
}

void export_changes(const std::vector<EnvChange>& changes) {
  if (changes.empty()) return;
  for (const EnvChange& c : changes) setenv(c.name.c_str(), c.value.c_str(), 1);
  setenv(kTuningVariable, extended_note(tuning_note(), changes).c_str(), 1);
}

std::string tuning_note() {
  const char* note = std::getenv(kTuningVariable);
  return note != nullptr ? std::string(note) : std::string();
}

}  // namespace moedil
