#include "moedil/io/free_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "moedil/common/error.h"

namespace moedil::io {

int64_t free_bytes(const std::filesystem::path& path) {
  std::filesystem::path probe = std::filesystem::absolute(path);
  std::error_code ec;
  while (!std::filesystem::exists(probe, ec) && probe.has_parent_path() &&
         probe != probe.parent_path()) {
    probe = probe.parent_path();
  }
  struct statvfs info {};
  if (::statvfs(probe.c_str(), &info) != 0) {
    throw IoError("cannot inspect the file system of " + path.string() + ": " +
                  std::strerror(errno));
  }
  return static_cast<int64_t>(info.f_bavail) * static_cast<int64_t>(info.f_frsize);
}

void require_free_space(const std::filesystem::path& path, int64_t needed,
                        const std::string& what) {
  const int64_t available = free_bytes(path);
  if (available < needed) {
    throw IoError(fmt::format(
        "{} has {:.1f} MiB free, but {} needs about {:.1f} MiB; free some space or point "
        "results_dir elsewhere",
        path.string(), static_cast<double>(available) / (1 << 20), what,
        static_cast<double>(needed) / (1 << 20)));
  }
}

}  // namespace moedil::io
