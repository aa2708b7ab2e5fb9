#pragma once
// spdlog set-up: one logger "moedil" writing to the console and, during a run, to
// logs/<run-id>.log, flushed after every line so `tail -f` follows it.
#include <filesystem>
#include <memory>

#include <spdlog/logger.h>

namespace moedil::io {

/// The console logger (created on first use).
std::shared_ptr<spdlog::logger> logger();

/// Adds a file sink appending to `path` (parents created) to the logger, every line written
/// when logged. A symbolic link or a non-regular file at `path` is refused (IoError), never
/// followed. Returns the sink so it can be removed with detach_log_file when the run ends.
std::shared_ptr<spdlog::sinks::sink> attach_log_file(const std::filesystem::path& path);
void detach_log_file(const std::shared_ptr<spdlog::sinks::sink>& sink);

}  // namespace moedil::io
