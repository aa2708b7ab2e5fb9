#include "moedil/io/logging.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"

namespace moedil::io {
namespace {

/// Appends each formatted line to a descriptor from open_append_no_follow (spdlog's own file
/// sink opens by name and follows a symbolic link planted there). Writes are unbuffered, so
/// every line is in the file when logged.
class AppendFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit AppendFileSink(int fd) : fd_(fd) {}
  ~AppendFileSink() override { ::close(fd_); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw spdlog::spdlog_ex("cannot write the log file", errno);  // reported by spdlog
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  void flush_() override {}

 private:
  int fd_;
};

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("%^[%H:%M:%S %L]%$ %v");
    // https://no-color.org: a NO_COLOR that is set and not empty turns colour off (spdlog already
    // leaves it off when stderr is not a terminal).
    if (const char* no_color = std::getenv("NO_COLOR"); no_color != nullptr && *no_color != 0) {
      console->set_color_mode(spdlog::color_mode::never);
    }
    auto log = std::make_shared<spdlog::logger>("moedil", console);
    log->set_level(spdlog::level::info);
    log->flush_on(spdlog::level::info);
    return log;
  }();
  return instance;
}

std::shared_ptr<spdlog::sinks::sink> attach_log_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    sink = std::make_shared<AppendFileSink>(open_append_no_follow(path));
  } catch (const IoError& e) {
    throw IoError(std::string("cannot open log file: ") + e.what());
  }
  sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e %L] %v");
  logger()->sinks().push_back(sink);
  return sink;
}

void detach_log_file(const std::shared_ptr<spdlog::sinks::sink>& sink) {
  auto& sinks = logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  logger()->flush();
}

}  // namespace moedil::io
