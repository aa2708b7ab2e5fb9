#pragma once
// Settings moedil gives the OpenMP runtime and OpenBLAS. Both read them from the environment
// once, when they are loaded, before main() runs; so moedil decides them first and, when it
// changes one, starts itself again (execve, same pid) with the new environment:
// - GOMP_SPINCOUNT: how long an idle OpenMP worker spins before it sleeps. libgomp's default
//   (300,000 spins) makes a run that shares its cores with another multi-threaded process stall
//   at every parallel region (each run at ~10% of its idle throughput); moedil sets a short spin
//   (kSpinCount) unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT. Decided before any
//   library initialises (a .preinit_array function of the executable). There libc's environment
//   is not set up yet (a setenv would be lost), so the setting borrows the slot of a variable of
//   the shell's bookkeeping (kLendableVariables, e.g. "_") in the process's own environment
//   array, which the libraries' initialisers then read; main() gives the slot back and sets the
//   variable properly (settle_tuning_at_main). Only where no such slot exists does moedil
//   restart itself (execve, same pid), which costs the dynamic loading of LibTorch's ~290
//   libraries once more: ~0.14 s on a 2-core Zen 5 VM.
// - OPENBLAS_CORETYPE: an OpenBLAS older than the CPU falls back to its generic kernels
//   (Debian 12's 0.3.21 takes 2023's Xeons for a Prescott and runs SSE3 kernels, half the
//   speed of its AVX-512 ones), or may run its AVX2 kernels on an AVX-512 CPU it does not know
//   (on a Zen 5 the peer benchmark took 22% less time with SkylakeX's kernels than with
//   Haswell's; bench/README.md). Known only once OpenBLAS has initialised, so that restart costs
//   the whole start-up; it happens only on such machines and only for commands that compute.
//   OpenBLAS's choice is remembered per CPU and OpenBLAS library (blas_cache_path: a line in
//   ~/.cache/moedil/cpu-tuning), so later runs on the machine decide both settings before any
//   library initialises and restart once, cheaply (0.5 s of start-up less).
// Neither changes what is computed by a given machine's run twice (the choice is made the
// same way every time), and run.json records the BLAS kernels in use. MOEDIL_NO_TUNE=1 leaves
// both alone. bench/README.md ("Threads and a shared machine") has the figures.
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace moedil {

/// The GOMP_SPINCOUNT moedil sets: 1,000 spins (~30 us on a Zen 5, ~60 us on a Skylake-SP,
/// whose pause instruction is slower), then a futex sleep. 5,000 until 2026-12-04: on a 2-core
/// Zen 5 VM two runs sharing the cores then kept 23-29% of a lone run's throughput each, with
/// 1,000 49-66%, at no lone cost measurable beyond that VM's spread (bench/README.md).
inline constexpr const char* kSpinCount = "1000";

/// What moedil set, for the log: "NAME=VALUE (why); ...". Inherited by the processes a moedil
/// starts (batch runs), which then change nothing themselves.
inline constexpr const char* kTuningVariable = "MOEDIL_CPU_TUNING";

/// One environment variable to set, and the reason the log gives.
struct EnvChange {
  std::string name;
  std::string value;
  std::string why;
};

/// An environment lookup (std::getenv, or a fake in tests): nullptr when unset.
using EnvGet = const char* (*)(const char*);

/// This process's environment as an EnvGet (std::getenv).
inline const char* process_env(const char* name) { return std::getenv(name); }

/// The OpenMP wait setting to add: GOMP_SPINCOUNT=kSpinCount unless OMP_WAIT_POLICY or
/// GOMP_SPINCOUNT is set or MOEDIL_NO_TUNE is set (to anything but "" or "0"). A restarted
/// process has it set, so it plans nothing.
std::vector<EnvChange> plan_openmp_tuning(EnvGet get);

/// What the CPU offers that OpenBLAS's kernels use (the OS must save the registers too).
struct CpuFeatures {
  bool avx2_fma = false;  ///< AVX2 and FMA3: OpenBLAS's Haswell kernels
  bool avx512 = false;    ///< AVX-512 F, CD, BW, DQ and VL: its SkylakeX kernels
};
CpuFeatures cpu_features();

/// The core OpenBLAS chose for its kernels (openblas_get_corename), "" when the BLAS in this
/// process is not OpenBLAS.
std::string openblas_core();

/// OPENBLAS_CORETYPE to add when OpenBLAS chose `chosen`, a core older than AVX2, on a CPU with
/// AVX2/FMA (-> Haswell) or AVX-512 (-> SkylakeX), or a core with AVX2 kernels (Haswell, Zen)
/// on a CPU with AVX-512 (-> SkylakeX, as OpenBLAS releases that know the CPU choose); nothing
/// when OPENBLAS_CORETYPE is set (by the user, or by moedil before a restart), MOEDIL_NO_TUNE
/// is set, or `chosen` is "" or the best core for the CPU.
std::vector<EnvChange> plan_openblas_tuning(EnvGet get, const std::string& chosen,
                                            const CpuFeatures& cpu);

/// `env` (NAME=VALUE strings, null-terminated) with `changes` set (an existing NAME replaced)
/// and kTuningVariable extended by their reasons.
std::vector<std::string> tuned_environment(const char* const* env,
                                           const std::vector<EnvChange>& changes);

/// Where OpenBLAS's choice is remembered: $XDG_CACHE_HOME/moedil/cpu-tuning, else
/// $HOME/.cache/moedil/cpu-tuning; "" when neither is set.
std::string blas_cache_path(EnvGet get);

/// What OpenBLAS's choice depends on: the CPU (its CPUID signature and the features of
/// CpuFeatures) and the OpenBLAS library loaded in this process (path, size, modification
/// time); "" when no OpenBLAS is loaded. Safe before the C++ runtime has initialised.
std::string blas_machine_key();

/// The core OpenBLAS chose on `key`'s machine, as remembered in the file at `path`; nullopt when
/// the file is missing, unreadable, or for another key. Reads with open/read only (preinit).
std::optional<std::string> read_blas_choice(const std::string& path, const std::string& key);

/// Remembers `core` for `key` in the file at `path` (its directory created; written to a
/// temporary file and renamed into place). False when that fails: the next run then asks
/// OpenBLAS again, at the cost of the restart.
bool write_blas_choice(const std::string& path, const std::string& key, const std::string& core);

/// Starts this program again (/proc/self/exe, the same argv) with `changes` applied to `env`.
/// Returns only when that fails (e.g. no /proc): the process then goes on untuned.
/// Safe before the C++ runtime has initialised (no streams, no exceptions escape).
void restart_with(char* const* argv, const char* const* env,
                  const std::vector<EnvChange>& changes);

/// For the log line naming OpenBLAS's kernels: "OPENBLAS_CORETYPE=X in the environment" when
/// the environment forces the kernels and moedil did not set it (its note, kTuningVariable,
/// says so otherwise), else "".
std::string blas_kernels_forced_by_user(EnvGet get);

/// Whether `argv` is a command the OpenMP setting is for: run and eval (they compute) and batch
/// (its runs inherit it); status, report and the rest start without the restart.
bool openmp_tuning_applies(int argc, const char* const* argv);

/// What to set before any library initialises: plan_openmp_tuning's setting and, when this
/// machine's OpenBLAS choice is remembered (`remembered_core`), plan_openblas_tuning's.
std::vector<EnvChange> plan_at_start(EnvGet get, const std::optional<std::string>& remembered_core,
                                     const CpuFeatures& cpu);

/// Whether main should remember OpenBLAS's choice `core` (it is OpenBLAS's own: nobody set
/// OPENBLAS_CORETYPE, MOEDIL_NO_TUNE is not set) and it differs from what is remembered.
bool should_remember_blas_choice(EnvGet get, const std::string& core,
                                 const std::optional<std::string>& remembered);

/// Variables whose slots in the environment array the start may lend to its settings until
/// main(): the bookkeeping of the shell that started moedil, which no library reads when it
/// loads. bash exports "_" (the command's path) and SHLVL to every command it starts.
inline constexpr const char* kLendableVariables[] = {
    "_",         "SHLVL",    "OLDPWD",     "LS_COLORS",      "HISTCONTROL", "HISTSIZE",
    "HISTFILESIZE", "LESSOPEN", "LESSCLOSE", "MAIL",        "MOTD_SHOWN",  "SSH_TTY",
    "SSH_CLIENT",   "SSH_CONNECTION"};

/// One slot of an environment array lent: env[index] held `original` and holds `lent` now.
struct LentSlot {
  std::size_t index = 0;
  char* original = nullptr;
  char* lent = nullptr;
};

/// Puts each of `entries` ("NAME=VALUE", kept alive by the caller until the slots are given
/// back) into the slot of one kLendableVariables entry of `env` (null-terminated), in env's
/// order. Returns the slots lent; lends nothing and returns {} when there are fewer such slots
/// than entries (or none is asked for).
std::vector<LentSlot> lend_environment_slots(char** env, const std::vector<char*>& entries);

/// Gives `loans` back: every entry of `env` and of `current` (libc's environment now, a copy of
/// the array when a library called setenv meanwhile; may be `env` or null) that points at a
/// lent entry points at its original again. Found by pointer, not by index, as a library's
/// unsetenv moves the entries after the one it removes.
void return_environment_slots(char** env, char** current, const std::vector<LentSlot>& loans);

/// The executable's .preinit_array function (src/main.cpp registers it): before any shared
/// library initialises, gives a command openmp_tuning_applies to plan_at_start's settings,
/// reading `envp` directly (libc's environment is set up later): in lent slots of `envp`
/// (lend_environment_slots) or, where there are too few, by a restart (restart_with).
void tune_openmp_at_preinit(int argc, char** argv, char** envp);

/// First thing in main(): gives back the slots tune_openmp_at_preinit lent and sets what they
/// held in the environment for real (export_changes), for the log and for the processes this
/// one starts. Does nothing when nothing was lent.
void settle_tuning_at_main();

/// Sets `changes` in this process's environment, for the processes it starts.
void export_changes(const std::vector<EnvChange>& changes);

/// kTuningVariable's value: what moedil set for this process ("" when nothing).
std::string tuning_note();

}  // namespace moedil
