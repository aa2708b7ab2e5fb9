#pragma once
// Checking that a results disk can hold a run before training starts.
#include <cstdint>
#include <filesystem>
#include <string>

namespace moedil::io {

/// Free bytes available to this user on the file system holding `path` (or its nearest
/// existing ancestor). Throws IoError when no ancestor can be inspected.
int64_t free_bytes(const std::filesystem::path& path);

/// Throws IoError, naming the path and both sizes in MiB, when the file system holding `path`
/// has fewer than `needed` bytes free; `what` says what the space is for.
void require_free_space(const std::filesystem::path& path, int64_t needed, const std::string& what);

}  // namespace moedil::io
