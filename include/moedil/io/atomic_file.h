#pragma once
// Atomic whole-file writes for results, logs and checkpoints metadata: a reader (or a crash)
// never leaves a partially written file behind at the destination path.
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

/// True when `name` is the name of a temp file write_file_atomic creates:
/// ".<file name>.tmp-<pid>-<8 hex digits>".
bool is_atomic_temp_name(const std::string& name);

/// Removes every temp file write_file_atomic left in `dir` (not below it) when its writer died
/// (SIGKILL, power loss) between creating and renaming it; returns the removed paths. Call it
/// only while no other process writes to `dir` (a run directory under its RunLock).
std::vector<std::filesystem::path> remove_stale_temp_files(const std::filesystem::path& dir);

}  // namespace moedil::io
