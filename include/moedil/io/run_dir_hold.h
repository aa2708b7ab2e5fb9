#pragma once
// A run directory as the process running in it holds it: locked (io::RunLock), with its failure
// note (io::FailureNote) reserved before the run first writes run.json. When the hold ends before the run ever wrote its run.json (a
// failed or interrupted start), the directory is removed again, with the parents created for
// it, so a start that fails leaves no empty run directory behind.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moedil/io/failure_note.h"
#include "moedil/io/run_lock.h"

namespace moedil::io {

class RunDirHold {
 public:
  /// Holds exactly `dir` (moedil run --run-dir or --resume, a batch's run; "x/" means x),
  /// creating it and its missing parents; its name is the run id. Throws UsageError when
  /// another live moedil process holds it, IoError when it or its lock cannot be created.
  static RunDirHold claim(const std::filesystem::path& dir);
  /// Holds a fresh parent/<run id> (io::create_run_dir: its errors).
  static RunDirHold fresh(const std::filesystem::path& parent, std::string_view model,
                          std::string_view dataset);

  RunDirHold(RunDirHold&& other) noexcept;
  RunDirHold& operator=(RunDirHold&&) = delete;
  RunDirHold(const RunDirHold&) = delete;
  RunDirHold& operator=(const RunDirHold&) = delete;
  /// When it held the lock and the directory has no run.json: removes its lock file and note,
  /// then the directory and the parents this hold created, each only when empty. Never throws.
  ~RunDirHold();

  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// Reserves the directory's failure note (FailureNote::reserve: blank, replacing an earlier
  /// attempt's) and returns it. Call right before the run writes its run.json.
  FailureNote& reserve_failure_note();

 private:
  RunDirHold(std::string id, std::filesystem::path dir, std::vector<std::filesystem::path> created)
      : id_(std::move(id)), dir_(std::move(dir)), created_(std::move(created)) {}

  std::string id_;
  std::filesystem::path dir_;
  std::vector<std::filesystem::path> created_;  ///< deepest first (dir_ itself when created)
  std::optional<RunLock> lock_;
  std::optional<FailureNote> note_;
};

}  // namespace moedil::io
