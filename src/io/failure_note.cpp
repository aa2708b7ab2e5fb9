#include "moedil/io/failure_note.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// Writes all of `text` at offset 0; false on any error.
bool write_at_start(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done,
                               static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

/// The note as JSON padded with spaces to exactly kFailureNoteBytes (the error cut to fit).
std::string note_text(const NotedOutcome& outcome) {
  std::string error = outcome.error;
  for (;;) {
    const std::string text = json{{"status", outcome.status},
                                  {"error", error},
                                  {"finished", outcome.finished}}
                                 .dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() + 1 <= kFailureNoteBytes) {
      return text + std::string(kFailureNoteBytes - text.size() - 1, ' ') + "\n";
    }
    // Cut by what is over (escapes may make a byte several); "..." says it was cut.
    const std::size_t over = text.size() + 1 - kFailureNoteBytes + 3;
    error = error.substr(0, error.size() > over ? error.size() - over : 0) + "...";
    if (error.size() <= 3) error.clear();
  }
}

}  // namespace

fs::path failure_note_path(const fs::path& dir) { return dir / ".failure"; }

FailureNote FailureNote::reserve(const fs::path& dir) {
  const fs::path path = failure_note_path(dir);
  // Overwritten in place, not truncated: an earlier attempt's note keeps its blocks, so
  // blanking it needs no new space either.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw IoError(path.string() + ": cannot reserve the failure note: " + std::strerror(errno));
  }
  FailureNote note(path, fd);
  const std::string blank(kFailureNoteBytes, ' ');
  if (!write_at_start(fd, blank) || ::ftruncate(fd, kFailureNoteBytes) != 0 ||
      ::fsync(fd) != 0) {
    throw IoError(path.string() + ": cannot reserve " + std::to_string(kFailureNoteBytes) +
                  " bytes for the failure note: " + std::strerror(errno));
  }
  return note;
}

FailureNote::FailureNote(FailureNote&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

FailureNote& FailureNote::operator=(FailureNote&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FailureNote::~FailureNote() {
  if (fd_ >= 0) ::close(fd_);
}

bool FailureNote::record(const NotedOutcome& outcome) noexcept {
  if (fd_ < 0) return false;
  try {
    return write_at_start(fd_, note_text(outcome)) && ::fsync(fd_) == 0;
  } catch (...) {  // std::bad_alloc while formatting
    return false;
  }
}

std::optional<NotedOutcome> read_failure_note(const fs::path& dir) {
  const fs::path path = failure_note_path(dir);
  if (!path_present(path)) return std::nullopt;
  try {
    const std::string text = read_input_file(path);
    if (text.find_first_not_of(" \n") == std::string::npos) return std::nullopt;
    const json j = json::parse(text);
    NotedOutcome out;
    out.status = j.at("status").get<std::string>();
    out.error = j.at("error").get<std::string>();
    out.finished = j.at("finished").get<std::string>();
    if (out.status.empty()) return std::nullopt;
    return out;
  } catch (const InterruptedError&) {
    throw;
  } catch (const std::exception&) {  // unreadable or half-written: no note
    return std::nullopt;
  }
}

}  // namespace moedil::io
