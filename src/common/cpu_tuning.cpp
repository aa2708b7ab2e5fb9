#include "moedil/common/cpu_tuning.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
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
  if (leave_alone(get) || is_set(get, "OPENBLAS_CORETYPE") || chosen.empty() ||
      !predates_avx2(chosen) || !cpu.avx2_fma) {
    return {};
  }
  const std::string core = cpu.avx512 ? "SkylakeX" : "Haswell";
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

bool openmp_tuning_applies(int argc, const char* const* argv) {
  if (argc < 2 || argv == nullptr || argv[1] == nullptr) return false;
  const std::string_view sub(argv[1]);
  return sub == "run" || sub == "eval" || sub == "batch";
}

namespace {

char** preinit_env = nullptr;

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
  restart_with(argv, envp, plan_openmp_tuning(&preinit_getenv));
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
