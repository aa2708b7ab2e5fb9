#include "moedil/io/logging.h"

#include <algorithm>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "moedil/common/error.h"

namespace moedil::io {

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("%^[%H:%M:%S %L]%$ %v");
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
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string(), /*truncate=*/false);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError("cannot open log file '" + path.string() + "': " + e.what());
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
