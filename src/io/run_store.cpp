#include "moedil/io/run_store.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/failure_note.h"

namespace moedil::io {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ordered = nlohmann::ordered_json;

namespace {

[[noreturn]] void io_fail(const fs::path& path, const std::string& what) {
  throw IoError(path.string() + ": " + what + ": " + std::strerror(errno));
}

/// Appends `text` to `path` and makes it durable before returning.
void append_durably(const fs::path& path, std::string_view text) {
  const int fd = open_append_no_follow(path);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      errno = saved;
      io_fail(path, "cannot append");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    io_fail(path, "cannot sync");
  }
  ::close(fd);
}

/// The lines of a file; a last line without its newline (a write cut short) is left out.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) break;
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

/// epochs.jsonl's text; DataError unless it holds at least `wanted` whole lines, saying who
/// counts them (`counted_by`) and what to do.
std::string epochs_text(const fs::path& path, std::size_t wanted, const std::string& counted_by,
                        const std::string& advice) {
  std::string text = read_input_file(path);
  const std::size_t held = lines_of(text).size();
  if (held < wanted) {
    throw DataError(path.string() + " holds " + std::to_string(held) + " epochs but " +
                    counted_by + " " + std::to_string(wanted) + ": " + advice);
  }
  return text;
}

/// Cuts `path` back to its first `bytes` bytes.
void truncate_to(const fs::path& path, std::size_t bytes) {
  if (::truncate(path.c_str(), static_cast<off_t>(bytes)) != 0) io_fail(path, "cannot truncate");
}

/// Shortest text that reads back as the same double; "nan"/"inf" for the non-finite.
std::string number_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, result.ptr);
}

/// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

json parse_line(std::string_view line, const fs::path& path, std::size_t number) {
  try {
    return json::parse(line);
  } catch (const json::parse_error& e) {
    throw DataError(path.string() + " line " + std::to_string(number + 1) +
                    ": not valid JSON: " + e.what());
  }
}

int64_t int_field(const json& j, const char* key, const fs::path& path, std::size_t number) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) {
    throw DataError(path.string() + " line " + std::to_string(number + 1) + ": no integer \"" +
                    key + "\"");
  }
  return j[key].get<int64_t>();
}

std::string confusion_line(const char* stage, int64_t global_epoch, int64_t trained_domain,
                           int64_t epoch, std::size_t eval_domain, const EvalRecord& v) {
  ordered line;
  line["stage"] = stage;
  line["global_epoch"] = global_epoch;
  line["trained_domain"] = trained_domain;
  line["epoch"] = epoch;
  line["eval_domain"] = eval_domain;
  line["domain"] = v.domain;
  line["confusion"] = v.confusion;
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

/// Offset just past `line` (a view into `text`) and its newline.
std::size_t end_of(std::string_view text, std::string_view line) {
  return static_cast<std::size_t>(line.data() - text.data()) + line.size() + 1;
}

}  // namespace

json progress_json(const RunRecord& r) {
  const RunInfo& i = r.run;
  json out = {{"schema_version", 1},
              {"id", i.id},
              {"config_name", i.config_name},
              {"status", i.status},
              {"error", i.error.empty() ? json(nullptr) : json(i.error)},
              {"started", i.started},
              {"finished", i.finished.empty() ? json(nullptr) : json(i.finished)},
              {"num_domains", !r.domains.empty() || !i.config.is_object()
                                  ? json(r.domains.size())
                                  : i.config.value("num_partitions", json(0))},
              {"epochs_per_domain", i.config.is_object() && i.config.contains("epochs_per_domain")
                                        ? i.config["epochs_per_domain"]
                                        : json(0)},
              {"epochs_done", epochs_done(r)},
              {"domain", nullptr},
              {"epoch", nullptr},
              {"acc", nullptr},
              {"final_acc", r.metrics ? json(r.metrics->acc) : json(nullptr)},
              {"mean_epoch_seconds", 0.0}};
  if (!r.epochs.empty()) {
    const EpochRecord& last = r.epochs.back();
    out["domain"] = last.domain;
    out["epoch"] = last.epoch;
    if (!last.eval.empty()) {
      double sum = 0.0;
      for (const auto& v : last.eval) sum += v.acc;
      out["acc"] = sum / static_cast<double>(last.eval.size());
    }
    double total = 0.0;
    for (const auto& e : r.epochs) total += e.seconds + e.eval_seconds;
    out["mean_epoch_seconds"] = total / static_cast<double>(r.epochs.size());
  }
  return out;
}

Progress progress_from_json(const json& j, const std::string& where) {
  Progress p;
  try {
    const auto opt = [&](const char* key) -> std::optional<double> {
      return j.at(key).is_null() ? std::nullopt : std::optional<double>(j.at(key).get<double>());
    };
    const auto text = [&](const char* key) {
      return j.at(key).is_null() ? std::string() : j.at(key).get<std::string>();
    };
    const auto index = [&](const char* key) {
      return j.at(key).is_null() ? int64_t{-1} : j.at(key).get<int64_t>();
    };
    p.id = j.at("id").get<std::string>();
    p.config_name = j.at("config_name").get<std::string>();
    p.status = j.at("status").get<std::string>();
    p.error = text("error");
    p.started = text("started");
    p.finished = text("finished");
    p.num_domains = j.at("num_domains").get<int64_t>();
    p.epochs_per_domain = j.at("epochs_per_domain").get<int64_t>();
    p.epochs_done = j.at("epochs_done").get<int64_t>();
    p.domain = index("domain");
    p.epoch = index("epoch");
    p.acc = opt("acc");
    p.final_acc = opt("final_acc");
    p.mean_epoch_seconds = j.at("mean_epoch_seconds").get<double>();
  } catch (const json::exception& e) {
    throw DataError(where + ": not a moedil progress file (" + e.what() + ")");
  }
  return p;
}

std::optional<Progress> read_progress(const fs::path& run_dir) {
  const fs::path path = run_dir / kProgressFile;
  if (!path_present(path)) return std::nullopt;
  json j;
  try {
    j = json::parse(read_input_file(path));
  } catch (const json::parse_error& e) {
    throw DataError(path.string() + ": not a moedil progress file (" + e.what() + ")");
  }
  Progress p = progress_from_json(j, path.string());
  if (p.status == "running") {
    if (auto noted = read_failure_note(run_dir)) {
      p.status = noted->status;
      p.error = noted->error;
      p.finished = noted->finished;
    }
  }
  return p;
}

void read_stored_epochs(const fs::path& dir, RunRecord& r, bool with_confusion) {
  const auto wanted = static_cast<std::size_t>(epochs_done(r));
  const fs::path epochs_path = dir / kEpochsFile;
  {
    const std::string text =
        epochs_text(epochs_path, wanted, "run.json counts", "the run directory was damaged");
    const std::vector<std::string_view> lines = lines_of(text);
    r.epochs.clear();
    for (std::size_t k = 0; k < wanted; ++k) {
      const json j = parse_line(lines[k], epochs_path, k);
      r.epochs.push_back(
          epoch_from_json(j, epochs_path.string() + " line " + std::to_string(k + 1) + ":"));
    }
  }
  if (!with_confusion) return;
  const fs::path path = dir / kConfusionFile;
  const std::string text = read_input_file(path);
  const std::vector<std::string_view> lines = lines_of(text);
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const json j = parse_line(lines[n], path, n);
    const std::string stage = j.is_object() ? j.value("stage", "") : "";
    const int64_t eval_domain = int_field(j, "eval_domain", path, n);
    std::vector<EvalRecord>* evals = nullptr;
    if (stage == "pretrain") {
      if (r.pretrain) evals = &r.pretrain->eval;
    } else if (stage == "train") {
      const int64_t g = int_field(j, "global_epoch", path, n);
      if (g < 0) {
        throw DataError(path.string() + " line " + std::to_string(n + 1) + ": bad global_epoch");
      }
      if (static_cast<std::size_t>(g) >= wanted) continue;  // beyond what run.json counts
      evals = &r.epochs[static_cast<std::size_t>(g)].eval;
    } else {
      throw DataError(path.string() + " line " + std::to_string(n + 1) + ": unknown stage \"" +
                      stage + "\"");
    }
    if (evals == nullptr) continue;
    if (eval_domain < 0 || static_cast<std::size_t>(eval_domain) >= evals->size()) {
      throw DataError(path.string() + " line " + std::to_string(n + 1) + ": eval_domain " +
                      std::to_string(eval_domain) + " is not a domain of the run");
    }
    try {
      (*evals)[static_cast<std::size_t>(eval_domain)].confusion =
          j.at("confusion").get<std::vector<std::vector<int64_t>>>();
    } catch (const json::exception& e) {
      throw DataError(path.string() + " line " + std::to_string(n + 1) +
                      ": bad confusion matrix (" + e.what() + ")");
    }
  }
}

void RunStore::start_fresh() const {
  write_file_atomic(dir_ / kEpochsFile, "");
  write_file_atomic(dir_ / kConfusionFile, "");
  write_file_atomic(dir_ / kMetricsCsvFile, std::string(kMetricsColumns) + "\n");
}

void RunStore::restore(RunRecord& r) const {
  const auto done = static_cast<std::size_t>(epochs_done(r));
  if (!r.epochs.empty()) {
    // A checkpoint from before schema 7 holds every epoch with its matrices: write them out.
    start_fresh();
    if (r.pretrain) append_pretrain(r);
    std::vector<EpochRecord> epochs = std::move(r.epochs);
    r.epochs.clear();
    for (EpochRecord& e : epochs) {
      r.epochs.push_back(std::move(e));
      append_last_epoch(r);
    }
    return;
  }
  // epochs.jsonl: its first `done` lines; the rest is an epoch the checkpoint does not hold.
  const fs::path epochs_path = dir_ / kEpochsFile;
  {
    const std::string text = epochs_text(epochs_path, done, "the checkpoint counts",
                                         "the run directory was damaged; start the run again");
    const std::vector<std::string_view> lines = lines_of(text);
    truncate_to(epochs_path, done == 0 ? 0 : end_of(text, lines[done - 1]));
  }
  // confusion.jsonl and metrics.csv: up to the first line of a later epoch.
  {
    const fs::path path = dir_ / kConfusionFile;
    const std::string text = read_input_file(path);
    std::size_t keep = 0;
    const std::vector<std::string_view> lines = lines_of(text);
    for (std::size_t n = 0; n < lines.size(); ++n) {
      const json j = parse_line(lines[n], path, n);
      if (j.value("stage", "") == "train" &&
          static_cast<std::size_t>(int_field(j, "global_epoch", path, n)) >= done) {
        break;
      }
      keep = end_of(text, lines[n]);
    }
    truncate_to(path, keep);
  }
  {
    const fs::path path = dir_ / kMetricsCsvFile;
    const std::string text = read_input_file(path);
    const std::vector<std::string_view> lines = lines_of(text);
    if (lines.empty() || lines[0] != kMetricsColumns) {
      throw DataError(path.string() + " does not start with moedil's header");
    }
    std::size_t keep = end_of(text, lines[0]);
    for (std::size_t n = 1; n < lines.size(); ++n) {
      uint64_t g = 0;
      const auto [ptr, ec] = std::from_chars(lines[n].data(), lines[n].data() + lines[n].size(), g);
      if (ec != std::errc() || g >= done) break;
      keep = end_of(text, lines[n]);
    }
    truncate_to(path, keep);
  }
  read_stored_epochs(dir_, r, /*with_confusion=*/false);
}

void RunStore::append_pretrain(RunRecord& r) const {
  if (!r.pretrain) return;
  std::string text;
  for (std::size_t j = 0; j < r.pretrain->eval.size(); ++j) {
    text += confusion_line("pretrain", -1, -1, -1, j, r.pretrain->eval[j]);
  }
  append_durably(dir_ / kConfusionFile, text);
  for (EvalRecord& v : r.pretrain->eval) v.confusion = {};
}

void RunStore::append_last_epoch(RunRecord& r) const {
  if (r.epochs.empty()) return;
  const int64_t global = static_cast<int64_t>(r.epochs.size()) - 1;
  EpochRecord& e = r.epochs.back();
  json line = epoch_to_json(e, /*with_confusion=*/false);
  line["global_epoch"] = global;
  std::string confusion;
  std::string rows;
  const std::string trained_name =
      e.domain >= 0 && static_cast<std::size_t>(e.domain) < r.domains.size()
          ? r.domains[static_cast<std::size_t>(e.domain)]
          : std::string();
  for (std::size_t j = 0; j < e.eval.size(); ++j) {
    const EvalRecord& v = e.eval[j];
    confusion += confusion_line("train", global, e.domain, e.epoch, j, v);
    rows += std::to_string(global) + "," + std::to_string(e.domain) + "," +
            csv_field(trained_name) + "," + std::to_string(e.epoch) + "," + std::to_string(j) +
            "," + csv_field(v.domain) + "," + number_text(v.acc) + "," + number_text(v.loss) +
            "," + number_text(e.train_loss) + "," + number_text(e.train_acc) + "," +
            number_text(e.aux_loss) + "," + number_text(e.lr) + "," + number_text(e.seconds) +
            "," + number_text(e.eval_seconds) + "," + number_text(e.samples_per_s) + "," +
            number_text(e.balance_weight) + "," + (e.routers_frozen ? "1" : "0") + "," +
            std::to_string(e.replayed) + "\n";
  }
  // The matrices and rows first: epochs.jsonl's line is what counts an epoch as stored.
  append_durably(dir_ / kConfusionFile, confusion);
  append_durably(dir_ / kMetricsCsvFile, rows);
  append_durably(dir_ / kEpochsFile,
                 line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  for (EvalRecord& v : e.eval) v.confusion = {};
}

void RunStore::write_summary(const RunRecord& r) const {
  write_file_atomic(run_json(), summary_json(r).dump(1) + "\n");
  write_file_atomic(dir_ / kProgressFile, progress_json(r).dump(1) + "\n");
}

}  // namespace moedil::io
