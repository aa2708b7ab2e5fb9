#include "moedil/batch/status.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <ctime>
#include <regex>

#include "moedil/batch/text.h"
#include "moedil/common/printable.h"
#include "moedil/io/run_lock.h"
#include "moedil/io/run_record.h"
#include "moedil/io/run_store.h"

namespace moedil::batch {
namespace fs = std::filesystem;

namespace {

/// What progress.json would say of a run directory written before it existed. Its run.json
/// holds the epochs inline; r_history may be missing from hand-made ones, so they count.
io::Progress progress_of_record(const io::RunRecord& r, const std::string& where) {
  io::Progress p = io::progress_from_json(io::progress_json(r), where);
  p.epochs_done = static_cast<int64_t>(r.epochs.size());
  return p;
}

StatusRow row_for(const fs::path& json_path, double now_s) {
  StatusRow row;
  row.dir = json_path.parent_path();
  row.run = row.dir.filename().string();
  static const std::regex batch_key(R"(^.+-g(\d+)-[0-9a-f]{8}$)");
  std::smatch m;
  row.group = std::regex_match(row.run, m, batch_key) ? "g" + m[1].str() : "-";
  const bool live = io::run_is_live(row.dir);
  // progress.json: a few hundred bytes, however long the run (io/run_store.h).
  std::optional<io::Progress> progress;
  try {
    progress = io::read_progress(row.dir);
  } catch (const std::exception& e) {
    row.status = live ? "running" : "unreadable";
    row.config = "-";
    row.error = e.what();
    return row;
  }
  if (!progress) {
    // A run directory written before progress.json: its run.json holds everything.
    try {
      progress = progress_of_record(io::read_run_record(json_path.string()), json_path.string());
    } catch (const std::exception& e) {
      row.status = live ? "running" : "unreadable";
      row.config = "-";
      row.error = e.what();
      return row;
    }
  }
  if (progress->status == "running" && !live) {
    // Killed, or stopped between rewriting run.json and progress.json: run.json tells.
    try {
      const io::RunRecord summary =
          io::read_run_record(json_path.string(), io::RecordParts::summary);
      progress->status = summary.run.status;
      progress->error = summary.run.error;
      progress->finished = summary.run.finished;
    } catch (const std::exception&) {
      // progress.json's "running" stands, shown as killed
    }
  }
  const io::Progress& p = *progress;
  row.config = p.config_name;
  row.status = p.status;
  if (row.status == "running" && !live) row.status = "killed";
  if (row.status != "completed") row.error = p.error;

  row.num_domains = p.num_domains;
  row.epochs_per_domain = p.epochs_per_domain;
  if (p.domain >= 0) {
    row.domain = p.domain + 1;
    row.epoch = p.epoch + 1;
    row.acc = p.acc;
  }

  const auto started = parse_utc_iso(p.started);
  const auto finished = parse_utc_iso(p.finished);
  if (started && finished) {
    row.elapsed_seconds = *finished - *started;
  } else if (started && row.status == "running") {
    row.elapsed_seconds = now_s - *started;
  }
  if (row.status == "running" && p.epochs_done > 0 && row.epochs_per_domain > 0 &&
      row.num_domains > 0) {
    const int64_t left =
        std::max<int64_t>(0, row.num_domains * row.epochs_per_domain - p.epochs_done);
    row.eta_seconds = p.mean_epoch_seconds * static_cast<double>(left);
  }
  return row;
}

}  // namespace

std::optional<double> parse_utc_iso(const std::string& text) {
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  char z = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &year, &month, &day, &hour, &minute,
                  &second, &z) != 7 ||
      z != 'Z') {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<double>(timegm(&tm));
}

std::vector<StatusRow> collect_status(const fs::path& root,
                                      std::chrono::system_clock::time_point now) {
  std::vector<StatusRow> rows;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return rows;
  const double now_s =
      std::chrono::duration<double>(now.time_since_epoch()).count();
  std::vector<fs::path> found;
  for (auto it = fs::recursive_directory_iterator(
           root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    if (it->is_directory(ec) && p.filename().string().rfind('.', 0) == 0) {
      it.disable_recursion_pending();
      continue;
    }
    // Not only regular files: a run.json that cannot be read (a symlink loop, a dangling link)
    // is listed as unreadable instead of being passed over. Directory links are not followed.
    std::error_code type_ec;
    if (p.filename() == "run.json" && !it->is_directory(type_ec)) found.push_back(p);
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& p : found) rows.push_back(row_for(p, now_s));
  return rows;
}

std::string format_status(const std::vector<StatusRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  std::map<std::string, int> counts;
  for (const StatusRow& r : rows) {
    char acc[16] = "-";
    if (r.acc) std::snprintf(acc, sizeof acc, "%.4f", *r.acc);
    const auto frac = [](int64_t a, int64_t b) {
      return b > 0 ? std::to_string(a) + "/" + std::to_string(b) : std::string("-");
    };
    cells.push_back({r.run, r.config, r.group, r.status, frac(r.domain, r.num_domains),
                     frac(r.epoch, r.epochs_per_domain),
                     r.elapsed_seconds >= 0 ? format_duration(r.elapsed_seconds) : "-",
                     r.eta_seconds ? format_duration(*r.eta_seconds) : "-", acc,
                     r.error.empty() ? "" : r.error});
    ++counts[r.status];
  }
  std::string out = format_table(
      {"RUN", "CONFIG", "GROUP", "STATUS", "DOMAIN", "EPOCH", "ELAPSED", "ETA", "ACC", "ERROR"},
      cells);
  out += std::to_string(rows.size()) + (rows.size() == 1 ? " run" : " runs");
  std::string sep = ": ";
  for (const auto& [status, n] : counts) {
    out += sep + std::to_string(n) + " " + printable(status);
    sep = ", ";
  }
  return out + "\n";
}

}  // namespace moedil::batch
