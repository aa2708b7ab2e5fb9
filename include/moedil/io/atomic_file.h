#pragma once
// Atomic whole-file writes for results, logs and checkpoints metadata: a reader (or a crash)
// never leaves a partially written file behind at the destination path.
#include <filesystem>
#include <string_view>

namespace moedil::io {

/// Writes `content` to `path` atomically: the bytes go to a uniquely named temp file in the same
/// directory, which is written in full, fsync'ed, closed and renamed over `path`; then the
/// directory is fsync'ed. Missing parent directories are created. On any failure the temp file
/// is removed and moedil::IoError is thrown naming the path and the cause (strerror(errno)).
/// A reader never sees a partial file: it sees either the old content or the new one.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

}  // namespace moedil::io
