#include "moedil/io/provenance.h"

#include <cctype>
#include <sstream>
#include <system_error>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil_build_commit.h"  // generated at build time (cmake/build_commit.cmake)

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxSmallFile = 1 << 16;   // HEAD, a ref, a .git file, commondir
constexpr uint64_t kMaxPackedRefs = 64 << 20;  // packed-refs of a large repository

/// The file's text with surrounding whitespace removed; "" when it cannot be read as a regular
/// file of at most `limit` bytes.
std::string read_small(const fs::path& path, uint64_t limit = kMaxSmallFile) {
  try {
    InputFile in(path);
    if (in.size() > limit) return "";
    std::string text(static_cast<std::size_t>(in.size()), '\0');
    text.resize(in.read(text.data(), text.size()));
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  } catch (const DataError&) {
    return "";
  }
}

bool is_object_id(const std::string& s) {
  if (s.size() != 40 && s.size() != 64) return false;  // SHA-1 or SHA-256
  for (const char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

/// The git directory of the repository holding `dir`: <top>/.git, or where a .git file points
/// (worktrees, submodules); empty when there is none.
fs::path find_git_dir(const fs::path& dir) {
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (ec) return {};
  p = p.lexically_normal();
  for (;;) {
    const fs::path dot_git = p / ".git";
    if (fs::is_directory(dot_git, ec)) return dot_git;
    if (path_present(dot_git)) {
      const std::string text = read_small(dot_git);  // "gitdir: <path>"
      if (text.rfind("gitdir:", 0) != 0) return {};
      std::string target = text.substr(7);
      target.erase(0, target.find_first_not_of(" \t"));
      const fs::path t(target);
      return t.is_absolute() ? t : (p / t).lexically_normal();
    }
    if (!p.has_relative_path()) return {};
    p = p.parent_path();
  }
}

/// A ref name git could have written: refs/..., no "..", no control characters.
bool plausible_ref(const std::string& ref) {
  if (ref.rfind("refs/", 0) != 0 || ref.find("..") != std::string::npos) return false;
  for (const char c : ref) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') return false;
  }
  return true;
}

/// The object id `ref` points at: <common>/<ref> (or <git_dir>/<ref>), else packed-refs.
std::string resolve_ref(const fs::path& git_dir, const fs::path& common, const std::string& ref) {
  for (const fs::path& base : {git_dir, common}) {
    const std::string id = read_small(base / ref);
    if (is_object_id(id)) return id;
  }
  std::istringstream packed(read_small(common / "packed-refs", kMaxPackedRefs));
  for (std::string line; std::getline(packed, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, std::string::npos, ref) == 0 &&
        is_object_id(line.substr(0, space))) {
      return line.substr(0, space);
    }
  }
  return "";
}

}  // namespace

std::string build_commit() {
  const std::string commit = MOEDIL_BUILD_COMMIT;
  return commit.empty() ? "unknown" : commit;
}

std::string worktree_commit(const fs::path& dir) {
  const fs::path git_dir = find_git_dir(dir);
  if (git_dir.empty()) return "";
  const std::string head = read_small(git_dir / "HEAD");
  if (is_object_id(head)) return head;  // detached
  if (head.rfind("ref:", 0) != 0) return "";
  std::string ref = head.substr(4);
  ref.erase(0, ref.find_first_not_of(" \t"));
  if (!plausible_ref(ref)) return "";
  // A linked worktree keeps its HEAD in its own git dir and the refs in the common one.
  fs::path common = git_dir;
  const std::string common_text = read_small(git_dir / "commondir");
  if (!common_text.empty()) {
    const fs::path c(common_text);
    common = c.is_absolute() ? c : (git_dir / c).lexically_normal();
  }
  const std::string id = resolve_ref(git_dir, common, ref);
  if (id.empty()) return "";
  const std::string branch = ref.rfind("refs/heads/", 0) == 0 ? ref.substr(11) : ref;
  return id + " (" + branch + ")";
}

}  // namespace moedil::io
