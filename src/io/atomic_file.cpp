#include "moedil/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <system_error>
#include <utility>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void throw_errno(const fs::path& path, const std::string& what, int err) {
  throw IoError(path.string() + ": " + what + ": " + std::strerror(err));
}

/// Closes a descriptor on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now and reports the result of close(2) (errno is left set on failure).
  int close_now() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

 private:
  int fd_;
};

/// Removes the temp file on scope exit unless dismissed.
class TempGuard {
 public:
  explicit TempGuard(fs::path path) : path_(std::move(path)) {}
  TempGuard(const TempGuard&) = delete;
  TempGuard& operator=(const TempGuard&) = delete;
  ~TempGuard() {
    if (active_) ::unlink(path_.c_str());
  }
  void dismiss() { active_ = false; }

 private:
  fs::path path_;
  bool active_ = true;
};

/// Opens a new, uniquely named temp file next to `path`; returns its descriptor and name.
int open_temp(const fs::path& path, const fs::path& dir, fs::path* temp_path) {
  std::random_device rd;
  char suffix[32];
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::snprintf(suffix, sizeof(suffix), ".tmp-%ld-%08x", static_cast<long>(::getpid()),
                  static_cast<unsigned>(rd()));
    fs::path candidate = dir / ("." + path.filename().string() + suffix);
    const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      *temp_path = std::move(candidate);
      return fd;
    }
    if (errno != EEXIST) throw_errno(path, "cannot create temp file " + candidate.string(), errno);
  }
  throw IoError(path.string() + ": cannot create a unique temp file in " + dir.string());
}

void write_all(int fd, const fs::path& path, std::string_view content) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(path, "write failed", errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void fsync_dir(const fs::path& path, const fs::path& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw_errno(path, "cannot open directory " + dir.string() + " to fsync", errno);
  FdGuard guard(dfd);
  if (::fsync(dfd) != 0 && errno != EINVAL) {
    throw_errno(path, "fsync of directory " + dir.string() + " failed", errno);
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view content) {
  if (path.empty() || !path.has_filename()) {
    throw IoError("'" + path.string() + "': not a file path (no file name)");
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw IoError(path.string() + ": cannot create parent directory " + dir.string() + ": " +
                  ec.message());
  }

  fs::path temp_path;
  FdGuard fd(open_temp(path, dir, &temp_path));
  TempGuard temp(temp_path);
  write_all(fd.get(), path, content);
  if (::fsync(fd.get()) != 0) throw_errno(path, "fsync failed", errno);
  if (fd.close_now() != 0) throw_errno(path, "close failed", errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) throw_errno(path, "rename failed", errno);
  temp.dismiss();
  fsync_dir(path, dir);
}

AtomicFileWriter::AtomicFileWriter(fs::path path) : path_(std::move(path)) {
  if (path_.empty() || !path_.has_filename()) {
    throw IoError("'" + path_.string() + "': not a file path (no file name)");
  }
  const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw IoError(path_.string() + ": cannot create parent directory " + dir.string() + ": " +
                  ec.message());
  }
  fd_ = open_temp(path_, dir, &temp_);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFileWriter::append(std::string_view bytes) {
  if (fd_ < 0) throw IoError(path_.string() + ": write after commit");
  write_all(fd_, path_, bytes);
  size_ += bytes.size();
}

void AtomicFileWriter::write_at(uint64_t offset, std::string_view bytes) {
  if (fd_ < 0) throw IoError(path_.string() + ": write after commit");
  if (offset + bytes.size() > size_) {
    throw IoError(path_.string() + ": write_at beyond the bytes written");
  }
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  auto at = static_cast<off_t>(offset);
  while (left > 0) {
    const ssize_t n = ::pwrite(fd_, p, left, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(path_, "write failed", errno);
    }
    p += n;
    at += n;
    left -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw IoError(path_.string() + ": committed twice");
  TempGuard temp(temp_);
  FdGuard fd(fd_);
  fd_ = -1;
  if (::fsync(fd.get()) != 0) throw_errno(path_, "fsync failed", errno);
  if (fd.close_now() != 0) throw_errno(path_, "close failed", errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) throw_errno(path_, "rename failed", errno);
  temp.dismiss();
  fsync_dir(path_, path_.has_parent_path() ? path_.parent_path() : fs::path("."));
}

bool is_atomic_temp_name(const std::string& name) {
  // ".<name>.tmp-<digits>-<8 hex>"
  if (name.size() < 2 || name[0] != '.') return false;
  const std::size_t tmp = name.rfind(".tmp-");
  if (tmp == std::string::npos || tmp < 2) return false;
  const std::size_t dash = name.find('-', tmp + 5);
  if (dash == std::string::npos || dash == tmp + 5 || name.size() - dash - 1 != 8) return false;
  for (std::size_t i = tmp + 5; i < dash; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  for (std::size_t i = dash + 1; i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<fs::path> remove_stale_temp_files(const fs::path& dir) {
  std::vector<fs::path> removed;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (!is_atomic_temp_name(name) || !it->is_regular_file(type_ec)) continue;
    if (::unlink(it->path().c_str()) == 0) removed.push_back(it->path());
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace moedil::io
