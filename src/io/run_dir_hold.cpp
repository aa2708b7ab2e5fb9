#include "moedil/io/run_dir_hold.h"

#include <unistd.h>

#include <system_error>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/io/run_id.h"
#include "moedil/common/safe_file.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

/// `dir` and its ancestors that do not exist yet, deepest first.
std::vector<fs::path> missing_dirs(const fs::path& dir) {
  std::vector<fs::path> out;
  for (fs::path p = dir.lexically_normal(); !p.empty() && !path_present(p);
       p = p.parent_path()) {
    if (p.filename().empty()) {
      if (p == p.parent_path()) break;  // "/" or a bare root name
      continue;
    }
    out.push_back(p);
    if (p.parent_path() == p) break;
  }
  return out;
}

RunLock lock_or_throw(const fs::path& dir) {
  std::optional<RunLock> lock = RunLock::try_acquire(dir);
  if (!lock) {
    throw UsageError(dir.string() + " is being run by another live moedil process");
  }
  return std::move(*lock);
}

}  // namespace

RunDirHold::RunDirHold(RunDirHold&& other) noexcept
    : id_(std::move(other.id_)),
      dir_(std::exchange(other.dir_, fs::path())),
      created_(std::exchange(other.created_, {})),
      lock_(std::move(other.lock_)),
      note_(std::move(other.note_)) {}

RunDirHold RunDirHold::claim(const fs::path& given) {
  const fs::path dir = given.filename().empty() ? given.parent_path() : given;
  std::vector<fs::path> created = missing_dirs(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create run directory " + dir.string() + ": " + ec.message());
  // From here on a failure removes what was created (the hold's destructor).
  RunDirHold hold(dir.filename().string(), dir, std::move(created));
  hold.lock_.emplace(lock_or_throw(dir));
  return hold;
}

RunDirHold RunDirHold::fresh(const fs::path& parent, std::string_view model,
                             std::string_view dataset) {
  std::vector<fs::path> created = missing_dirs(parent);
  RunDir run;
  try {
    run = create_run_dir(parent, model, dataset);
  } catch (...) {
    std::error_code ec;
    for (const fs::path& p : created) {
      if (!fs::remove(p, ec)) break;  // fails when not empty: leave it and the ones above
    }
    throw;
  }
  created.insert(created.begin(), run.dir);
  RunDirHold hold(run.id, run.dir, std::move(created));
  hold.lock_.emplace(lock_or_throw(run.dir));
  return hold;
}

FailureNote& RunDirHold::reserve_failure_note() {
  note_.emplace(FailureNote::reserve(dir_));
  return *note_;
}

RunDirHold::~RunDirHold() {
  // Only a holder undoes anything: a claim refused because another process holds the directory
  // must leave that process's lock file alone.
  if (dir_.empty() || !lock_ || path_present(dir_ / "run.json")) return;
  // Nothing of the run was recorded: undo what the start created.
  ::unlink(failure_note_path(dir_).c_str());
  ::unlink((dir_ / ".lock").c_str());
  for (const fs::path& p : created_) {
    if (::rmdir(p.c_str()) != 0) break;  // not empty: leave it and the ones above
  }
}

}  // namespace moedil::io
