#pragma once
// A run's last word when its disk is full. When a run starts, a small file <run dir>/.failure
// is written in full and fsync'ed, so its blocks are allocated while there is still room. If
// the run then ends and run.json cannot be rewritten (no space left, quota exceeded), the
// outcome is written into those reserved bytes in place, which needs no new block. Readers of
// run.json (io::read_run_record: status, report, batch, --resume) take a run.json that still
// says "running" together with a noted outcome as that outcome. On a copy-on-write file system
// (btrfs, ZFS) an overwrite may need new blocks too; there the note is best effort.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace moedil::io {

/// Bytes reserved for the note.
inline constexpr std::size_t kFailureNoteBytes = 4096;

/// The reserved file of run directory `dir`.
std::filesystem::path failure_note_path(const std::filesystem::path& dir);

/// An outcome noted in the reserved file.
struct NotedOutcome {
  std::string status;    ///< failed | interrupted
  std::string error;     ///< why, as run.json's run.error would have said
  std::string finished;  ///< ISO 8601 UTC
};

/// The reserved file of a run directory, open for the run's lifetime.
class FailureNote {
 public:
  /// Writes dir/.failure blank at its full size and fsyncs it, replacing any earlier note (a
  /// resumed run starts clean). Throws IoError naming the file when that fails (no space).
  static FailureNote reserve(const std::filesystem::path& dir);

  FailureNote(FailureNote&& other) noexcept;
  FailureNote& operator=(FailureNote&& other) noexcept;
  FailureNote(const FailureNote&) = delete;
  FailureNote& operator=(const FailureNote&) = delete;
  ~FailureNote();

  /// Writes `outcome` into the reserved bytes in place (its error shortened to fit) and fsyncs
  /// them. Returns whether that succeeded; never throws.
  bool record(const NotedOutcome& outcome) noexcept;

 private:
  FailureNote(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
};

/// The outcome noted in dir/.failure; nullopt when there is no such file, it is blank (the run
/// has not failed) or it cannot be read.
std::optional<NotedOutcome> read_failure_note(const std::filesystem::path& dir);

}  // namespace moedil::io
