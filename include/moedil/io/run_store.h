#pragma once
// A run directory's results, written as the run goes (README "Results"), so that what an epoch
// writes is proportional to that epoch's record, never to the whole run's:
//   run.json         the summary (io/run_record.h summary_json), rewritten atomically after
//                    every epoch: config, provenance, R-matrix and its history, metrics
//   progress.json    a few hundred bytes for `moedil status`, rewritten with run.json
//   epochs.jsonl     one JSON line per trained epoch (epoch_to_json without the matrices)
//   confusion.jsonl  one JSON line per evaluation of one domain's test split:
//                    {"stage": "train"|"pretrain", "global_epoch", "trained_domain", "epoch",
//                     "eval_domain", "domain", "confusion": [[truth][pred]]}
//   metrics.csv      one row per trained epoch x evaluated domain (kMetricsColumns)
// The last three are only appended to (and fsync'ed) after each epoch, before the checkpoint is
// written; a resumed run cuts them back to the epochs its checkpoint holds. Indices (domains,
// epochs) count from 0 in these files, as in run.json; messages count from 1.
// Torch-free.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "moedil/io/run_record.h"

namespace moedil::io {

inline constexpr const char* kRunJsonFile = "run.json";
inline constexpr const char* kProgressFile = "progress.json";
inline constexpr const char* kEpochsFile = "epochs.jsonl";
inline constexpr const char* kConfusionFile = "confusion.jsonl";
inline constexpr const char* kMetricsCsvFile = "metrics.csv";

/// metrics.csv's header line (without the newline).
inline constexpr const char* kMetricsColumns =
    "global_epoch,trained_domain,trained_domain_name,epoch,eval_domain,eval_domain_name,acc,"
    "loss,train_loss,train_acc,aux_loss,lr,seconds,eval_seconds,samples_per_s,balance_weight,"
    "routers_frozen,replayed";

/// What `moedil status` shows of a run, from progress.json.
struct Progress {
  std::string id;
  std::string config_name;
  std::string status;  ///< running | completed | failed | interrupted (failure note applied)
  std::string error;
  std::string started;
  std::string finished;
  int64_t num_domains = 0;
  int64_t epochs_per_domain = 0;
  int64_t epochs_done = 0;
  int64_t domain = -1;  ///< domain of the last trained epoch, from 0 (-1: none yet)
  int64_t epoch = -1;   ///< that epoch within its domain, from 0
  std::optional<double> acc;         ///< mean accuracy over the domains after it
  std::optional<double> final_acc;   ///< metrics.acc once every domain is trained
  double mean_epoch_seconds = 0.0;   ///< training + evaluation, over the epochs done
};

/// progress.json's content for `r`.
nlohmann::json progress_json(const RunRecord& r);

/// A Progress from progress_json's document; DataError names `where` when a field is missing or
/// has the wrong type.
Progress progress_from_json(const nlohmann::json& j, const std::string& where);

/// The run directory's progress.json, or nullopt when it has none (a run directory written
/// before schema 7: read its run.json). A "running" status takes the failure note's outcome as
/// read_run_record does. DataError names the file when it is not a progress file.
std::optional<Progress> read_progress(const std::filesystem::path& run_dir);

/// Fills r.epochs (the first epochs_done(r) lines of dir/epochs.jsonl) and, when
/// `with_confusion`, their and the pretraining's confusion matrices from dir/confusion.jsonl.
/// DataError names the file when it is missing, malformed, or holds fewer epochs than r counts.
void read_stored_epochs(const std::filesystem::path& dir, RunRecord& r, bool with_confusion);

/// The writer of one run directory's results.
class RunStore {
 public:
  explicit RunStore(std::filesystem::path run_dir) : dir_(std::move(run_dir)) {}
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path run_json() const { return dir_ / kRunJsonFile; }

  /// A run starting from its first epoch: the appended files start empty (metrics.csv with its
  /// header), whatever an earlier attempt left.
  void start_fresh() const;

  /// A run resumed from a checkpoint whose record is `r`. When `r` holds its epochs (a
  /// checkpoint written before schema 7), the files are written anew from them; otherwise the
  /// files are cut back to the epochs `r` counts (what an interrupted epoch end appended after
  /// the checkpoint goes) and r.epochs is read back (without matrices). DataError names the file
  /// when it holds fewer epochs than the checkpoint.
  void restore(RunRecord& r) const;

  /// Appends the pretraining's confusion matrices, then drops them from `r` (they are on disk).
  void append_pretrain(RunRecord& r) const;

  /// Appends r.epochs.back() to epochs.jsonl, its matrices to confusion.jsonl and its rows to
  /// metrics.csv (fsync'ed), then drops its matrices from `r`. IoError names the file.
  void append_last_epoch(RunRecord& r) const;

  /// Rewrites run.json and progress.json atomically.
  void write_summary(const RunRecord& r) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace moedil::io
