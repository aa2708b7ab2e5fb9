#include "moedil/io/run_record.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>

#include "moedil/common/error.h"
#include "moedil/io/failure_note.h"
#include "moedil/io/run_store.h"
#include "moedil/common/safe_file.h"

namespace moedil::io {
namespace {

using json = nlohmann::json;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json usage_json(const UsageByLayer& usage) {
  json out = json::object();
  for (const auto& [layer, counts] : usage) out[layer] = counts;
  return out;
}

/// Per layer, each expert's share of the rows (counts over their sum; zeros when no rows).
json usage_fraction_json(const UsageByLayer& usage) {
  json out = json::object();
  for (const auto& [layer, counts] : usage) {
    int64_t total = 0;
    for (const int64_t c : counts) total += c;
    std::vector<double> fractions;
    for (const int64_t c : counts) {
      fractions.push_back(total > 0 ? static_cast<double>(c) / static_cast<double>(total) : 0.0);
    }
    out[layer] = fractions;
  }
  return out;
}

json metrics_json(const metrics::ClMetrics& m) {
  return {{"acc", m.acc},
          {"aia", m.aia},
          {"bwt", optional_number(m.bwt)},
          {"fwt", optional_number(m.fwt)},
          {"fwt_baseline", optional_number(m.fwt_baseline)},
          {"forgetting", optional_number(m.forgetting)},
          {"forgetting_per_domain", m.forgetting_per_domain},
          {"plasticity", m.plasticity},
          {"intransience", optional_number(m.intransience)}};
}


json id_map_json(const std::map<int64_t, int64_t>& m) {
  json out = json::object();
  for (const auto& [id, count] : m) out[std::to_string(id)] = count;
  return out;
}


// ---- reading run.json back ----

/// A json value with the path that led to it, so errors name the field.
struct Field {
  const json& value;
  std::string path;

  Field at(const std::string& key) const {
    if (!value.is_object()) fail("is not an object");
    const auto it = value.find(key);
    if (it == value.end()) throw DataError(path + "." + key + " is missing");
    return {*it, path + "." + key};
  }
  Field at(std::size_t i) const { return {value.at(i), path + "[" + std::to_string(i) + "]"}; }
  bool has(const std::string& key) const { return value.is_object() && value.contains(key); }
  /// For fields added to schema 1 after its first runs: the default when absent.
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? at(key).as<T>() : fallback;
  }
  bool is_null() const { return value.is_null(); }
  /// A number the writer may have written as null: JSON has no NaN or infinity, so
  /// nlohmann::json writes them as null (a failed run's loss, for example); null reads back as
  /// NaN.
  double number() const {
    if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
    if (!value.is_number()) fail("has the wrong type (" + std::string(value.type_name()) + ")");
    return value.get<double>();
  }
  /// For number fields added to schema 1 after its first runs: the default when absent.
  double number_or(const std::string& key, double fallback) const {
    return has(key) ? at(key).number() : fallback;
  }

  template <class T>
  T as() const {
    try {
      return value.get<T>();
    } catch (const json::exception&) {
      fail("has the wrong type (" + std::string(value.type_name()) + ")");
    }
  }
  /// The elements of an array, each with its path.
  std::vector<Field> items() const {
    if (!value.is_array()) fail("is not an array");
    std::vector<Field> out;
    for (std::size_t i = 0; i < value.size(); ++i) out.push_back(at(i));
    return out;
  }
  [[noreturn]] void fail(const std::string& what) const { throw DataError(path + " " + what); }
};

std::optional<double> opt_double(const Field& f) {
  return f.is_null() ? std::nullopt : std::optional<double>(f.number());
}

// Lists, matrices and maps of numbers, each element possibly null (= NaN, see Field::number).
std::vector<double> numbers(const Field& f) {
  std::vector<double> out;
  for (const Field& v : f.items()) out.push_back(v.number());
  return out;
}

std::vector<std::vector<double>> number_matrix(const Field& f) {
  std::vector<std::vector<double>> out;
  for (const Field& v : f.items()) out.push_back(numbers(v));
  return out;
}

std::map<std::string, double> number_map(const Field& f) {
  if (!f.value.is_object()) f.fail("is not an object");
  std::map<std::string, double> out;
  for (const auto& [key, v] : f.value.items()) out[key] = Field{v, f.path + "." + key}.number();
  return out;
}

std::string opt_string(const Field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

UsageByLayer read_usage(const Field& f) {
  UsageByLayer out;
  if (!f.value.is_object()) f.fail("is not an object");
  for (const auto& [layer, counts] : f.value.items()) {
    out[layer] = Field{counts, f.path + "." + layer}.as<std::vector<int64_t>>();
  }
  return out;
}

std::vector<EvalRecord> read_evals(const Field& f) {
  std::vector<EvalRecord> out;
  for (const Field& v : f.items()) {
    EvalRecord e;
    e.domain = v.at("domain").as<std::string>();
    e.acc = v.at("acc").number();
    e.loss = v.at("loss").number();
    // run.json since schema 7 keeps the matrices in confusion.jsonl (io/run_store.h).
    if (v.has("confusion")) e.confusion = v.at("confusion").as<std::vector<std::vector<int64_t>>>();
    e.expert_usage = read_usage(v.at("expert_usage"));
    out.push_back(std::move(e));
  }
  return out;
}

EpochRecord read_epoch(const Field& f) {
  EpochRecord e;
  e.domain = f.at("domain").as<int64_t>();
  e.epoch = f.at("epoch").as<int64_t>();
  e.lr = f.at("lr").number();
  e.train_loss = f.at("train_loss").number();
  e.aux_loss = f.at("aux_loss").number();
  e.train_acc = f.at("train_acc").number();
  e.seconds = f.at("seconds").number();
  e.eval_seconds = f.at("eval_seconds").number();
  e.samples_per_s = f.at("samples_per_s").number();
  // Added to schema 1 with the continual-learning options; older runs lack them.
  e.balance_weight = f.number_or("balance_weight", 0.0);
  e.routers_frozen = f.get_or("routers_frozen", false);
  e.replayed = f.get_or<int64_t>("replayed", 0);
  e.eval = read_evals(f.at("eval"));
  e.expert_usage = read_usage(f.at("expert_usage"));
  if (f.has("dropped_fraction")) {  // absent in run.json files written before it existed
    e.dropped_fraction = number_map(f.at("dropped_fraction"));
  }
  if (f.has("routing_entropy")) {  // likewise
    e.routing_entropy = number_map(f.at("routing_entropy"));
    e.dead_experts = f.at("dead_experts").as<std::map<std::string, int64_t>>();
  }
  return e;
}

std::map<int64_t, int64_t> read_id_map(const Field& f) {
  std::map<int64_t, int64_t> out;
  if (!f.value.is_object()) f.fail("is not an object");
  for (const auto& [key, count] : f.value.items()) {
    try {
      out[std::stoll(key)] = Field{count, f.path + "." + key}.as<int64_t>();
    } catch (const std::logic_error&) {
      f.fail("has a key that is not an integer: \"" + key + "\"");
    }
  }
  return out;
}

}  // namespace

json config_from_older_schema(json config, int version) {
  if (!config.is_object() || version >= kRunSchemaVersion) return config;
  // Schema 5 and older: pretraining drew class-balanced from the domains' training splits.
  if (config.contains("pretrain") && config["pretrain"].is_object() &&
      !config["pretrain"].contains("draw")) {
    config["pretrain"]["draw"] = "class_balanced";
  }
  // Schema 5 and older: every LayerNorm had LibTorch's eps 1e-5 (vit's is 1e-6 since).
  if (config.contains("model") && config["model"].is_object() &&
      config["model"].value("name", json()) == "vit" &&
      !config["model"].contains("layer_norm_eps")) {
    config["model"]["layer_norm_eps"] = 1e-5;
  }
  if (version >= 5) return config;
  // Schema 4 and older: partition.type random assigned each sample to a random partition.
  if (config.contains("partition") && config["partition"].is_object() &&
      config["partition"].value("type", json()) == "random") {
    config["partition"]["type"] = "random_assignment";
  }
  // Schema 4 and older: loss.weight_cumulative counted every domain so far.
  if (config.contains("loss") && config["loss"].is_object()) {
    json& loss = config["loss"];
    if (!loss.contains("weight_counts") && loss.contains("weight_cumulative") &&
        loss["weight_cumulative"].is_boolean()) {
      loss["weight_counts"] = loss["weight_cumulative"].get<bool>() ? "all_domains" : "domain";
      loss["weight_cumulative"] = false;
    }
  }
  if (version >= 4) return config;
  if (config.contains("model") && config["model"].is_object()) {
    json& model = config["model"];
    const json name = model.value("name", json("vit_moe"));
    if (name == "vit_moe_imagelevel") {
      model["name"] = "vit_moe_centroid";  // the predecessor's model took the name
    }
    const bool routed = name == "vit_moe" || name == "hetero_moe" ||
                        name == "resnet18_conv_moe" || name == "resnet18_block_moe" ||
                        name == "vit_moe_imagelevel";
    // Defaults that took the predecessor's meaning: as they were then.
    if (routed && !model.contains("moe_balance_losses")) {
      model["moe_balance_losses"] = {{"switch", 1.0}};
    }
    if (name == "vit_moe" || name == "hetero_moe") {
      if (name == "vit_moe") {
        if (!model.contains("moe_routing_granularity")) model["moe_routing_granularity"] = "sample";
        if (!model.contains("moe_gate")) model["moe_gate"] = "probability";
      }
      // moe_route_with_cls_token chose the sample routing input; the models had a CLS token.
      if (model.contains("moe_route_with_cls_token") &&
          model["moe_route_with_cls_token"].is_boolean()) {
        model["moe_route_on"] = model["moe_route_with_cls_token"].get<bool>() ? "cls" : "mean";
        model.erase("moe_route_with_cls_token");
      }
    }
  }
  if (version >= 3) return config;
  if (config.contains("seeds") && config["seeds"].is_object()) {
    config["seeds"]["zero_is_a_seed"] = true;
  }
  if (version >= 2) return config;
  if (config.contains("router_freeze_after_epochs") &&
      config["router_freeze_after_epochs"].is_number_integer()) {
    const int64_t k = config["router_freeze_after_epochs"].get<int64_t>();
    config["router_freeze_after_epochs"] = nullptr;
    if (k > 0) config["router_freeze_per_domain_after_epochs"] = k;
  }
  if (config.contains("router_balance_anneal_epochs") &&
      config["router_balance_anneal_epochs"].is_number_integer()) {
    if (config["router_balance_anneal_epochs"].get<int64_t>() > 0) {
      config["router_balance_schedule"] = "linear_per_domain";
    } else {
      config["router_balance_max"] = nullptr;  // then: the strength, whatever max said
    }
  }
  if (config.contains("model") && config["model"].is_object()) {
    json& model = config["model"];
    for (const char* key : {"alpha_fast", "alpha_slow"}) {
      if (model.contains(key) && model[key].is_number()) {
        model[key] = 1.0 - model[key].get<double>();
      }
    }
    if (model.contains("routing_alpha") && model["routing_alpha"].is_number()) {
      model["ema_alpha"] = 1.0 - model["routing_alpha"].get<double>();
      model["routing_alpha"] = nullptr;
    }
  }
  return config;
}

RunRecord run_record_from_json(const json& j, const std::string& where) {
  const Field root{j, where + ":"};
  if (!j.is_object()) root.fail("is not a JSON object (not a moedil run.json)");
  if (!root.has("schema_version")) {
    throw DataError(where + ": no schema_version (not a moedil run.json)");
  }
  const auto version = root.at("schema_version").as<int64_t>();
  if (version < 1 || version > kRunSchemaVersion) {
    throw DataError(where + ": schema_version " + std::to_string(version) +
                    " is not supported (this moedil reads versions 1 to " +
                    std::to_string(kRunSchemaVersion) + ")");
  }
  RunRecord r;
  const Field run = root.at("run");
  RunInfo& i = r.run;
  i.id = run.at("id").as<std::string>();
  i.config_name = run.at("config_name").as<std::string>();
  i.config = config_from_older_schema(run.at("config").value, static_cast<int>(version));
  i.seeds = run.at("seeds").value;
  i.device = run.at("device").as<std::string>();
  i.num_threads = run.at("num_threads").as<int64_t>();
  i.torch_version = run.at("torch_version").as<std::string>();
  i.git = run.at("git").as<std::string>();
  i.workdir_git = run.get_or<std::string>("workdir_git", "");  // added to schema 1 later
  i.host = run.at("host").as<std::string>();
  i.started = run.at("started").as<std::string>();
  i.finished = opt_string(run.at("finished"));
  i.status = run.at("status").as<std::string>();
  i.error = opt_string(run.at("error"));
  i.num_parameters = run.at("num_parameters").as<int64_t>();

  r.domains = root.at("domains").as<std::vector<std::string>>();
  // Since schema 7 the epochs are in epochs.jsonl beside run.json (read_run_record).
  if (version < 7 || root.has("epochs")) {
    for (const Field& f : root.at("epochs").items()) r.epochs.push_back(read_epoch(f));
  }
  r.r_matrix = number_matrix(root.at("r_matrix"));
  for (const Field& f : root.at("r_history").items()) r.r_history.push_back(number_matrix(f));
  r.init_acc = numbers(root.at("init_acc"));
  if (root.has("baseline_acc") && !root.at("baseline_acc").is_null()) {
    r.baseline_acc = numbers(root.at("baseline_acc"));
  }
  if (root.has("pretrain") && !root.at("pretrain").is_null()) {
    const Field pretrain = root.at("pretrain");
    PretrainRecord p;
    p.num_samples = pretrain.at("num_samples").as<int64_t>();
    p.epochs = pretrain.at("epochs").as<int64_t>();
    p.train_loss = pretrain.at("train_loss").number();
    p.train_acc = pretrain.at("train_acc").number();
    p.seconds = pretrain.at("seconds").number();
    p.class_counts = pretrain.at("class_counts").as<std::vector<int64_t>>();
    p.eval = read_evals(pretrain.at("eval"));
    // Added in schema 3; older runs lack them.
    if (pretrain.has("lr")) p.lr = numbers(pretrain.at("lr"));
    if (pretrain.has("routers_frozen")) {
      p.routers_frozen = pretrain.at("routers_frozen").as<std::vector<bool>>();
    }
    r.pretrain = std::move(p);
  }
  for (const Field& f : root.has("replay") ? root.at("replay").items() : std::vector<Field>{}) {
    ReplayRecord m;
    m.after_domain = f.at("after_domain").as<int64_t>();
    m.size = f.at("size").as<int64_t>();
    m.seen = f.at("seen").as<int64_t>();
    m.by_domain = read_id_map(f.at("by_domain"));
    m.by_class = read_id_map(f.at("by_class"));
    r.replay.push_back(std::move(m));
  }
  // Added to schema 1 with expert merging; older runs lack it.
  for (const Field& f : root.has("merges") ? root.at("merges").items() : std::vector<Field>{}) {
    MergeRecord g;
    g.domain = f.at("domain").as<int64_t>();
    g.epoch = f.at("epoch").as<int64_t>();
    g.step = f.at("step").as<int64_t>();
    g.layer = f.at("layer").as<std::string>();
    g.target = f.at("target").as<int64_t>();
    g.sources = f.at("sources").as<std::vector<int64_t>>();
    g.counts = f.at("counts").as<std::vector<int64_t>>();
    r.merges.push_back(std::move(g));
  }
  const Field m = root.at("metrics");
  if (!m.is_null()) {
    metrics::ClMetrics cl;
    cl.acc = m.at("acc").number();
    cl.aia = m.at("aia").number();
    cl.bwt = opt_double(m.at("bwt"));
    cl.fwt = opt_double(m.at("fwt"));
    cl.forgetting = opt_double(m.at("forgetting"));
    cl.forgetting_per_domain = numbers(m.at("forgetting_per_domain"));
    cl.plasticity = m.at("plasticity").number();
    cl.intransience = opt_double(m.at("intransience"));
    if (m.has("fwt_baseline")) {
      cl.fwt_baseline = opt_double(m.at("fwt_baseline"));
    } else if (r.baseline_acc) {
      // Written before fwt_baseline existed: with baselines, "fwt" was measured against them.
      // It is fwt_baseline; fwt (GEM's, against init_acc) is computed from the matrix.
      cl.fwt_baseline = cl.fwt;
      cl.fwt.reset();
      try {
        cl.fwt = metrics::compute_cl_metrics(r.r_matrix, r.init_acc, std::nullopt).fwt;
      } catch (const Error&) {
        // an incomplete or non-finite matrix: GEM's FWT stays unknown
      }
    }
    r.metrics = cl;
  }
  return r;
}

EpochRecord epoch_from_json(const json& j, const std::string& where) {
  return read_epoch(Field{j, where});
}

int64_t epochs_done(const RunRecord& r) {
  int64_t n = 0;
  for (const auto& rows : r.r_history) n += static_cast<int64_t>(rows.size());
  return n;
}

RunRecord read_run_record(const std::string& path, RecordParts parts) {
  // A regular file only: a FIFO planted as run.json would block every reader.
  const std::string text = read_input_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw DataError(path + ": not valid JSON (truncated?): " + e.what());
  }
  RunRecord r = run_record_from_json(j, path);
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (parts != RecordParts::summary && !j.contains("epochs")) {
    read_stored_epochs(dir, r, parts == RecordParts::all);
  }
  if (r.run.status == "running") {
    // The run could not rewrite run.json at its end (a full disk): its reserved note tells.
    if (auto noted = read_failure_note(dir)) {
      r.run.status = noted->status;
      r.run.error = noted->error;
      r.run.finished = noted->finished;
    }
  }
  return r;
}

json evals_to_json(const std::vector<EvalRecord>& evals, bool with_confusion) {
  json out = json::array();
  for (const auto& v : evals) {
    json e = {{"domain", v.domain}, {"acc", v.acc}, {"loss", v.loss}};
    if (with_confusion) e["confusion"] = v.confusion;
    e["expert_usage"] = usage_json(v.expert_usage);
    out.push_back(std::move(e));
  }
  return out;
}

json epoch_to_json(const EpochRecord& e, bool with_confusion) {
  return {{"domain", e.domain},
          {"epoch", e.epoch},
          {"lr", e.lr},
          {"train_loss", e.train_loss},
          {"aux_loss", e.aux_loss},
          {"train_acc", e.train_acc},
          {"seconds", e.seconds},
          {"eval_seconds", e.eval_seconds},
          {"samples_per_s", e.samples_per_s},
          {"balance_weight", e.balance_weight},
          {"routers_frozen", e.routers_frozen},
          {"replayed", e.replayed},
          {"eval", evals_to_json(e.eval, with_confusion)},
          {"expert_usage", usage_json(e.expert_usage)},
          {"usage_fraction", usage_fraction_json(e.expert_usage)},
          {"dropped_fraction", e.dropped_fraction},
          {"routing_entropy", e.routing_entropy},
          {"dead_experts", e.dead_experts}};
}

json summary_json(const RunRecord& r) {
  json pretrain = nullptr;
  if (r.pretrain) {
    const PretrainRecord& p = *r.pretrain;
    pretrain = {{"num_samples", p.num_samples}, {"epochs", p.epochs},
                {"train_loss", p.train_loss},   {"train_acc", p.train_acc},
                {"seconds", p.seconds},         {"class_counts", p.class_counts},
                {"eval", evals_to_json(p.eval, /*with_confusion=*/false)},
                {"lr", p.lr},                   {"routers_frozen", p.routers_frozen}};
  }
  json replay = json::array();
  for (const auto& m : r.replay) {
    replay.push_back({{"after_domain", m.after_domain},
                      {"size", m.size},
                      {"seen", m.seen},
                      {"by_domain", id_map_json(m.by_domain)},
                      {"by_class", id_map_json(m.by_class)}});
  }
  json merges = json::array();
  for (const auto& g : r.merges) {
    merges.push_back({{"domain", g.domain},
                      {"epoch", g.epoch},
                      {"step", g.step},
                      {"layer", g.layer},
                      {"target", g.target},
                      {"sources", g.sources},
                      {"counts", g.counts}});
  }
  const RunInfo& i = r.run;
  return {{"schema_version", kRunSchemaVersion},
          {"run",
           {{"id", i.id},
            {"config_name", i.config_name},
            {"config", i.config},
            {"seeds", i.seeds},
            {"device", i.device},
            {"num_threads", i.num_threads},
            {"torch_version", i.torch_version},
            {"git", i.git},
            {"workdir_git", i.workdir_git},
            {"host", i.host},
            {"started", i.started},
            {"finished", i.finished.empty() ? json(nullptr) : json(i.finished)},
            {"status", i.status},
            {"error", i.error.empty() ? json(nullptr) : json(i.error)},
            {"num_parameters", i.num_parameters}}},
          {"domains", r.domains},
          {"epochs_done", epochs_done(r)},
          {"r_matrix", r.r_matrix},
          {"r_history", r.r_history},
          {"init_acc", r.init_acc},
          {"baseline_acc", r.baseline_acc ? json(*r.baseline_acc) : json(nullptr)},
          {"pretrain", std::move(pretrain)},
          {"replay", std::move(replay)},
          {"merges", std::move(merges)},
          {"metrics", r.metrics ? metrics_json(*r.metrics) : json(nullptr)}};
}

json to_json(const RunRecord& r) {
  json out = summary_json(r);
  json epochs = json::array();
  for (const auto& e : r.epochs) epochs.push_back(epoch_to_json(e, /*with_confusion=*/true));
  out["epochs"] = std::move(epochs);
  if (r.pretrain) out["pretrain"]["eval"] = evals_to_json(r.pretrain->eval, true);
  return out;
}

std::string utc_now_iso() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace moedil::io
