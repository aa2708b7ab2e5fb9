#include "moedil/io/run_record.h"

#include <chrono>
#include <ctime>

namespace moedil::io {
namespace {

using json = nlohmann::json;

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json usage_json(const UsageByLayer& usage) {
  json out = json::object();
  for (const auto& [layer, counts] : usage) out[layer] = counts;
  return out;
}

json metrics_json(const metrics::ClMetrics& m) {
  return {{"acc", m.acc},
          {"aia", m.aia},
          {"bwt", optional_number(m.bwt)},
          {"fwt", optional_number(m.fwt)},
          {"forgetting", optional_number(m.forgetting)},
          {"forgetting_per_domain", m.forgetting_per_domain},
          {"plasticity", m.plasticity},
          {"intransience", optional_number(m.intransience)}};
}

json eval_json(const std::vector<EvalRecord>& evals) {
  json out = json::array();
  for (const auto& v : evals) {
    out.push_back({{"domain", v.domain},
                   {"acc", v.acc},
                   {"loss", v.loss},
                   {"confusion", v.confusion},
                   {"expert_usage", usage_json(v.expert_usage)}});
  }
  return out;
}

json id_map_json(const std::map<int64_t, int64_t>& m) {
  json out = json::object();
  for (const auto& [id, count] : m) out[std::to_string(id)] = count;
  return out;
}

}  // namespace

json to_json(const RunRecord& r) {
  json epochs = json::array();
  for (const auto& e : r.epochs) {
    epochs.push_back({{"domain", e.domain},
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
                      {"eval", eval_json(e.eval)},
                      {"expert_usage", usage_json(e.expert_usage)}});
  }
  json pretrain = nullptr;
  if (r.pretrain) {
    const PretrainRecord& p = *r.pretrain;
    pretrain = {{"num_samples", p.num_samples}, {"epochs", p.epochs},
                {"train_loss", p.train_loss},   {"train_acc", p.train_acc},
                {"seconds", p.seconds},         {"class_counts", p.class_counts},
                {"eval", eval_json(p.eval)}};
  }
  json replay = json::array();
  for (const auto& m : r.replay) {
    replay.push_back({{"after_domain", m.after_domain},
                      {"size", m.size},
                      {"seen", m.seen},
                      {"by_domain", id_map_json(m.by_domain)},
                      {"by_class", id_map_json(m.by_class)}});
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
            {"host", i.host},
            {"started", i.started},
            {"finished", i.finished.empty() ? json(nullptr) : json(i.finished)},
            {"status", i.status},
            {"error", i.error.empty() ? json(nullptr) : json(i.error)},
            {"num_parameters", i.num_parameters}}},
          {"domains", r.domains},
          {"epochs", std::move(epochs)},
          {"r_matrix", r.r_matrix},
          {"r_history", r.r_history},
          {"init_acc", r.init_acc},
          {"baseline_acc", r.baseline_acc ? json(*r.baseline_acc) : json(nullptr)},
          {"pretrain", std::move(pretrain)},
          {"replay", std::move(replay)},
          {"metrics", r.metrics ? metrics_json(*r.metrics) : json(nullptr)}};
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
