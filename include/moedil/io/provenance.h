#pragma once
// Where a run's code came from, recorded in run.json without executing anything: the commit of
// the moedil build (fixed when moedil was built) and the commit checked out in the repository of
// the directory the run starts in, read from its .git files. No git process runs, so a
// repository's own configuration (hooks, core.fsmonitor, aliases) never executes on `moedil run`.
#include <filesystem>
#include <string>

namespace moedil::io {

/// `git describe --always --dirty` of the moedil source tree when this binary was built, or
/// "unknown" when it was built outside git.
std::string build_commit();

/// The commit checked out in the git repository holding `dir` (found by walking up to a .git
/// folder or file), as "<40 hex> (<branch>)", or "<40 hex>" when HEAD is detached. Reads .git's
/// HEAD, refs and packed-refs directly; "" outside a repository or when they cannot be read.
/// Never throws (except InterruptedError on a stop request).
std::string worktree_commit(const std::filesystem::path& dir);

}  // namespace moedil::io
