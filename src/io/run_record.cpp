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

}  // namespace

json to_json(const RunRecord& r) {
  json epochs = json::array();
  for (const auto& e : r.epochs) {
    json eval = json::array();
    for (const auto& v : e.eval) {
      eval.push_back({{"domain", v.domain},
                      {"acc", v.acc},
                      {"loss", v.loss},
                      {"confusion", v.confusion},
                      {"expert_usage", usage_json(v.expert_usage)}});
    }
    epochs.push_back({{"domain", e.domain},
                      {"epoch", e.epoch},
                      {"lr", e.lr},
                      {"train_loss", e.train_loss},
                      {"aux_loss", e.aux_loss},
                      {"train_acc", e.train_acc},
                      {"seconds", e.seconds},
                      {"eval_seconds", e.eval_seconds},
                      {"samples_per_s", e.samples_per_s},
                      {"eval", std::move(eval)},
                      {"expert_usage", usage_json(e.expert_usage)}});
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
