#pragma once
// Opening files that moedil reads, or appends to, without being stuck or misled by what it
// finds at the path:
// - Data files (dataset files, weights, run.json) are read only when they are regular files.
//   Opening a FIFO for reading waits for a writer (forever, and SIGTERM does not end a blocked
//   open), a device or socket never ends, a directory holds no data; each is refused with a
//   DataError naming the file, and so is a symbolic-link loop.
// - Log files (a run's log, a batch's console .out files) are appended to without following a
//   symbolic link at their name, so a link planted in a shared log folder cannot redirect the
//   writes into another file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace moedil {

/// An open regular file, for reading (move-only; closed on destruction).
class InputFile {
 public:
  /// Opens `path` for reading. Throws DataError naming `path` when nothing is there (or only a
  /// dangling symbolic link), when it is a symbolic-link loop, when it is not a regular file
  /// (FIFO, socket, device, directory), or when it cannot be opened.
  explicit InputFile(const std::filesystem::path& path);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&& other) noexcept;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  const std::filesystem::path& path() const { return path_; }
  /// Size in bytes when it was opened.
  uint64_t size() const { return size_; }
  /// Reads up to n bytes into `buffer`, fewer only at the end of the file. Polls the stop flag
  /// (common/stop.h) between chunks of 16 MiB (a read of one chunk or less never stops). Throws DataError naming the file on a read
  /// error and InterruptedError on a stop request.
  std::size_t read(void* buffer, std::size_t n);
  /// Gives the descriptor up (the caller closes it); the InputFile is empty afterwards.
  int release();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/// The whole content of the regular file at `path` (InputFile's checks and errors).
std::string read_input_file(const std::filesystem::path& path);

/// True when anything is at `path`, even a dangling or looping symbolic link (lstat); never
/// throws. For "is there a file named so?" before opening it with InputFile, which then names
/// the problem (unlike std::filesystem::exists, which throws on a loop).
bool path_present(const std::filesystem::path& path);

/// DataError naming `path` unless it is a regular file (symbolic links followed), with the
/// words InputFile uses; for a file handed by name to a library that opens it itself (OpenCV).
void require_regular_file(const std::filesystem::path& path);

/// Opens `path` for appending, creating it (mode 0644) when absent, without following a
/// symbolic link at its name and without blocking on a FIFO. Throws IoError naming `path` when
/// it is a symbolic link or not a regular file, or cannot be opened. Returns the descriptor
/// (close-on-exec); the caller closes it.
int open_append_no_follow(const std::filesystem::path& path);

}  // namespace moedil
