#pragma once
// Atomic whole-file writes for results, logs and checkpoints metadata: a reader (or a crash)
// never leaves a partially written file behind at the destination path.
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace moedil::io {

/// Writes `content` to `path` atomically: the bytes go to a uniquely named temp file in the same
/// directory, which is written in full, fsync'ed, closed and renamed over `path`; then the
/// directory is fsync'ed. Missing parent directories are created. On any failure the temp file
/// is removed and moedil::IoError is thrown naming the path and the cause (strerror(errno)).
/// A reader never sees a partial file: it sees either the old content or the new one.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// write_file_atomic for content written piece by piece (a file larger than memory): append()
/// writes to the temp file, commit() makes it the file at `path` (fsync, rename, fsync of the
/// directory). Destroyed without commit(), the temp file is removed and `path` is untouched.
/// Errors are moedil::IoError naming the path and the cause.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  void append(std::string_view bytes);
  /// Overwrites bytes already written, at `offset` (e.g. a header whose counts are known last).
  void write_at(uint64_t offset, std::string_view bytes);
  /// Bytes written so far.
  uint64_t size() const { return size_; }
  void commit();

 private:
  std::filesystem::path path_;
  std::filesystem::path temp_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// True when `name` is the name of a temp file write_file_atomic creates:
/// ".<file name>.tmp-<pid>-<8 hex digits>".
bool is_atomic_temp_name(const std::string& name);

/// Removes every temp file write_file_atomic left in `dir` (not below it) when its writer died
/// (SIGKILL, power loss) between creating and renaming it; returns the removed paths. Call it
/// only while no other process writes to `dir` (a run directory under its RunLock).
std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir);

}  // namespace moedil::io
