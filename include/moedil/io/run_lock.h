#pragma once
// A run directory is owned by at most one live moedil process: it holds an exclusive flock on
// <run dir>/.lock for as long as it runs. The kernel drops the lock when the process dies (even
// by SIGKILL), so a run whose run.json says "running" but whose lock is free was killed and can
// be resumed. `moedil status` and `moedil batch` use this to tell live runs from dead ones.
#include <filesystem>
#include <optional>

namespace moedil::io {

class RunLock {
 public:
  /// Takes the lock on dir/.lock (creating the file) without waiting; nullopt when another
  /// process holds it. Throws IoError when the lock file cannot be created.
  static std::optional<RunLock> try_acquire(const std::filesystem::path& dir);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// True when a live process holds dir's lock (a run is executing there now). False when the
/// directory or its lock file does not exist or nobody holds it.
bool run_is_live(const std::filesystem::path& dir);

}  // namespace moedil::io
