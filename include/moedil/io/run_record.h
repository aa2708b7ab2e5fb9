#pragma once
// Everything a run produces, as plain data: what run.json holds (see README "Results").
// Torch-free: the trainer fills it, the results writer serialises it, reports read it back.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/metrics/cl_metrics.h"

namespace moedil::io {

/// run.json's schema. Version 2 (2026-12-02): some config keys took the predecessor's meaning
/// (README "Coming from the predecessor"). Version 3 (2026-12-02): a seed of 0 is unseeded
/// unless seeds.zero_is_a_seed. Version 4 (2026-12-02): model vit_moe_imagelevel is the
/// predecessor's image-level model (moedil's own is vit_moe_centroid); vit_moe routes every
/// token with renormalised gates and the predecessor's balance loss by default;
/// moe_route_with_cls_token says whether the ViT has a CLS token. Version 5 (2026-12-02):
/// loss.weight_cumulative averages the weights with the previous ones (the predecessor's);
/// counting every domain so far is loss.weight_counts "all_domains" (the counts no longer take
/// in the pretraining labels, which only an uninterrupted run did). Version 6 (2026-12-03):
/// pretrain.draw, "dataset" (the predecessor's) when left out; older runs drew
/// "class_balanced". vit's LayerNorms take torchvision's eps 1e-6 (older: 1e-5). An older file is read
/// with its config converted to what it meant (config_from_older_schema), and is written back
/// as the current version. Version 7 (2026-12-03): run.json is a summary (no "epochs"; an
/// "epochs_done" count); the epochs are lines of epochs.jsonl and the confusion matrices lines
/// of confusion.jsonl beside it (io/run_store.h), so a run's writes grow with its work.
inline constexpr int kRunSchemaVersion = 7;

/// Per-layer expert counts, layer name -> count per expert.
using UsageByLayer = std::map<std::string, std::vector<int64_t>>;

/// Evaluation of one domain's test split.
struct EvalRecord {
  std::string domain;
  double acc = 0.0;
  double loss = 0.0;
  std::vector<std::vector<int64_t>> confusion;  ///< [truth][pred]
  UsageByLayer expert_usage;                    ///< rows routed per expert in this evaluation
};

/// One epoch of training on one domain, and the evaluation on every domain after it.
struct EpochRecord {
  int64_t domain = 0;  ///< index of the domain being trained
  int64_t epoch = 0;   ///< epoch within that domain, from 0
  double lr = 0.0;
  double train_loss = 0.0;  ///< mean task loss over the epoch's samples
  double aux_loss = 0.0;    ///< mean weighted auxiliary (balance) loss per step
  double train_acc = 0.0;
  double seconds = 0.0;  ///< training time of the epoch (evaluation excluded)
  double eval_seconds = 0.0;
  double samples_per_s = 0.0;
  double balance_weight = 0.0;   ///< weight of the balance loss this epoch (0 when off)
  bool routers_frozen = false;   ///< the routers got no gradient in this epoch
  int64_t replayed = 0;          ///< replayed samples mixed into this epoch's batches
  std::vector<EvalRecord> eval;  ///< one per domain, in domain order
  UsageByLayer expert_usage;     ///< rows routed per expert during training in this epoch
  /// Per MoE layer: fraction of this epoch's training rows dropped by the expert capacity.
  std::map<std::string, double> dropped_fraction;
  /// Per MoE layer: mean entropy (nats) of the router's distribution over this epoch's
  /// training rows (log E = uniform, 0 = certain).
  std::map<std::string, double> routing_entropy;
  /// Per MoE layer: experts that received no training row this epoch.
  std::map<std::string, int64_t> dead_experts;
};

struct RunInfo {
  std::string id;
  std::string config_name;
  nlohmann::json config;  ///< the resolved config
  nlohmann::json seeds;
  std::string device;
  int64_t num_threads = 0;
  std::string torch_version;
  std::string git;          ///< the moedil build's commit (git describe when it was built)
  std::string workdir_git;  ///< commit checked out where the run started ("" outside git)
  std::string host;
  std::string started;   ///< ISO 8601 UTC
  std::string finished;  ///< ISO 8601 UTC, empty while running
  std::string status = "running";  ///< running | completed | failed | interrupted
  std::string error;               ///< set when failed or interrupted
  int64_t num_parameters = 0;
};

/// Class-balanced pretraining before the first domain.
struct PretrainRecord {
  int64_t num_samples = 0;
  int64_t epochs = 0;
  double train_loss = 0.0;  ///< last epoch
  double train_acc = 0.0;   ///< last epoch
  double seconds = 0.0;
  std::vector<int64_t> class_counts;  ///< samples per class in the pretraining set
  std::vector<EvalRecord> eval;       ///< every domain's test split after pretraining
  std::vector<double> lr;             ///< per pretraining epoch (pretrain_scheduler)
  std::vector<bool> routers_frozen;   ///< per pretraining epoch (router_freeze_after_epochs)
};

/// What the replay memory holds after a domain has been trained.
struct ReplayRecord {
  int64_t after_domain = 0;
  int64_t size = 0;
  int64_t seen = 0;
  std::map<int64_t, int64_t> by_domain;
  std::map<int64_t, int64_t> by_class;
};

/// One expert merge (expert_merging): in `layer`, expert `target` := mean of `sources`.
struct MergeRecord {
  int64_t domain = 0;
  int64_t epoch = 0;
  int64_t step = 0;  ///< training step within the domain, from 1 (a multiple of every_steps)
  std::string layer;
  int64_t target = 0;
  std::vector<int64_t> sources;  ///< the two most selected experts
  std::vector<int64_t> counts;   ///< selections per expert in the domain up to this step
};

struct RunRecord {
  RunInfo run;
  std::vector<std::string> domains;
  std::vector<EpochRecord> epochs;
  std::vector<double> init_acc;  ///< each domain's accuracy before any training
  std::optional<std::vector<double>> baseline_acc;
  /// R[i][j] after the last epoch of domain i; rows are appended as domains finish.
  std::vector<std::vector<double>> r_matrix;
  /// r_history[e][i][j]: accuracy on domain j after epoch e of domain i.
  std::vector<std::vector<std::vector<double>>> r_history;
  std::optional<metrics::ClMetrics> metrics;  ///< set when every domain has been trained
  std::optional<PretrainRecord> pretrain;
  std::vector<ReplayRecord> replay;  ///< one per trained domain when replay is enabled
  std::vector<MergeRecord> merges;   ///< every expert merge, in order (expert_merging)
};

/// The whole record as one JSON document: summary_json with "epochs" (confusion matrices
/// included) and the pretraining's matrices. run_record_from_json reads it back.
nlohmann::json to_json(const RunRecord& r);

/// run.json's content: everything but the epochs and the confusion matrices, with
/// "epochs_done" (the epochs in r_history). Its size grows with domains, not with epochs x
/// classes^2.
nlohmann::json summary_json(const RunRecord& r);

/// One epoch as epochs.jsonl stores it (and run.json's "epochs" did before schema 7).
nlohmann::json epoch_to_json(const EpochRecord& e, bool with_confusion);

/// An epoch back from epoch_to_json; its evaluations' confusion stays empty when absent.
/// DataError names `where` and the field.
EpochRecord epoch_from_json(const nlohmann::json& j, const std::string& where);

/// The evaluations as run.json wrote them (epochs[].eval), with or without the matrices.
nlohmann::json evals_to_json(const std::vector<EvalRecord>& evals, bool with_confusion = true);

/// Epochs trained so far according to the record's r_history (one row per epoch).
int64_t epochs_done(const RunRecord& r);

/// Reads run.json back (the inverse of to_json and summary_json: a summary gives no epochs).
/// `where` names the source in errors (a path).
/// Throws DataError when the schema_version is missing or unknown, or when a field is missing
/// or has the wrong type (a truncated or hand-edited file), naming `where` and the field.
RunRecord run_record_from_json(const nlohmann::json& j, const std::string& where);

/// A resolved config as a run.json of schema `version` (1 or 2) stored it, with the keys whose
/// meaning changed since rewritten so the config runs the same experiment. From version 1:
///  - router_freeze_after_epochs K (then: per domain, 0 = never) -> K > 0 goes to
///    router_freeze_per_domain_after_epochs, and router_freeze_after_epochs becomes null;
///  - model.alpha_fast, model.alpha_slow (then: EMA steps) -> 1 - value (keep rates);
///  - model.routing_alpha r (then: the switch prototypes' EMA step) -> model.ema_alpha 1 - r
///    and model.routing_alpha null (the cosine of the whole feature, as then);
///  - router_balance_anneal_epochs > 0 (then: linear within each domain) ->
///    router_balance_schedule "linear_per_domain"; = 0 (then: router_balance_strength) ->
///    router_balance_max null.
/// From versions 1 and 2: a seeds block gets seeds.zero_is_a_seed true (its 0s were seeds).
/// From versions 1 to 3: model.name vit_moe_imagelevel -> vit_moe_centroid (moedil's model of
/// that name then); the routed families' moe_balance_losses left out -> {"switch": 1}; vit_moe's
/// moe_routing_granularity and moe_gate left out -> "sample" and "probability";
/// moe_route_with_cls_token b (vit_moe, hetero_moe: the sample routing input then) ->
/// moe_route_on "cls" or "mean", with a CLS token.
/// From versions 1 to 5: a pretrain block without draw gets draw "class_balanced"; model
/// "vit" without layer_norm_eps gets 1e-5.
/// Keys that are absent stay absent. Pure JSON: io knows run.json's history, not the config.
nlohmann::json config_from_older_schema(nlohmann::json config, int version);

/// What read_run_record reads of a run directory written since schema 7: run.json only, with
/// the epochs of epochs.jsonl, or with the confusion matrices of confusion.jsonl too.
enum class RecordParts { summary, epochs, all };

/// Reads and parses a run.json file, and the epochs and matrices beside it as `parts` asks
/// (older run.json files hold them all inline and give them all); DataError names the path when
/// it is missing, not a regular file, not JSON (for example truncated) or not a run record, or
/// when epochs.jsonl holds fewer epochs than run.json counts. A record that still says
/// "running" takes the outcome noted in the run directory's reserved failure note, if any
/// (io/failure_note.h: the run could not rewrite run.json, e.g. on a full disk).
RunRecord read_run_record(const std::string& path, RecordParts parts = RecordParts::all);

/// Current UTC time as ISO 8601 ("2026-11-23T12:34:56Z").
std::string utc_now_iso();

}  // namespace moedil::io
