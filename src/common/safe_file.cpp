#include "moedil/common/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"

namespace moedil {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kChunk = std::size_t{16} << 20;  // bytes read between stop polls

/// What a non-regular file is, for messages.
const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string not_regular(mode_t mode, const char* reads) {
  return std::string("is ") + kind_of(mode) + ", not a regular file; moedil " + reads +
         " only regular files";
}

[[noreturn]] void data_error(const fs::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

/// Why open(path) failed with `err`, in words.
std::string open_problem(const fs::path& path, int err) {
  if (err == ENOENT) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      return "is a dangling symbolic link (its target does not exist)";
    }
    return "file does not exist";
  }
  if (err == ELOOP) return "is a symbolic-link loop (too many levels of symbolic links)";
  return std::string("cannot open: ") + std::strerror(err);
}

}  // namespace

InputFile::InputFile(const fs::path& path) : path_(path) {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer; the
  // file type is checked on the open descriptor, so nothing can be swapped in between.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) data_error(path, open_problem(path, errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    data_error(path, std::string("cannot stat: ") + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    data_error(path, not_regular(st.st_mode, "reads data from"));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::InputFile(InputFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

InputFile& InputFile::operator=(InputFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
  }
  return *this;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t InputFile::read(void* buffer, std::size_t n) {
  auto* out = static_cast<char*>(buffer);
  std::size_t got = 0;
  while (got < n) {
    // Between chunks only: a small read (run.json, a note) still works after a stop request,
    // when the outcome of the stopped run is being recorded.
    if (got > 0 && stop_flag().load(std::memory_order_relaxed) != 0) {
      throw_if_stopped("reading " + path_.string());
    }
    const std::size_t want = std::min(n - got, kChunk);
    const ssize_t r = ::read(fd_, out + got, want);
    if (r < 0) {
      if (errno == EINTR) continue;
      data_error(path_, std::string("read failed: ") + std::strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

int InputFile::release() { return std::exchange(fd_, -1); }

std::string read_input_file(const fs::path& path) {
  InputFile file(path);
  std::string content;
  // The size at open time is a hint: the loop reads to the end whatever it is.
  content.resize(static_cast<std::size_t>(file.size()));
  std::size_t got = file.read(content.data(), content.size());
  content.resize(got);
  char more[1 << 16];
  for (std::size_t r; (r = file.read(more, sizeof more)) > 0;) content.append(more, r);
  return content;
}

void require_regular_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) data_error(path, open_problem(path, errno));
  if (!S_ISREG(st.st_mode)) {
    data_error(path, not_regular(st.st_mode, "reads data from"));
  }
}

bool path_present(const fs::path& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

int open_append_no_follow(const fs::path& path) {
  const int fd = ::open(path.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                            O_NOCTTY,
                        0644);
  if (fd < 0) {
    const int err = errno;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      throw IoError(path.string() +
                    ": is a symbolic link; moedil does not follow links when writing logs "
                    "(remove it)");
    }
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      // A FIFO without a reader fails with ENXIO here instead of blocking.
      throw IoError(path.string() + ": " + not_regular(st.st_mode, "appends logs to"));
    }
    throw IoError(path.string() + ": cannot open for appending: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw IoError(path.string() + ": " +
                  (st.st_mode != 0 ? not_regular(st.st_mode, "appends logs to")
                                   : std::string("cannot stat: ") + std::strerror(err)));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace moedil
