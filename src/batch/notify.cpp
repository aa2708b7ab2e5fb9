#include "moedil/batch/notify.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include <spdlog/logger.h>

#include "moedil/batch/text.h"
#include "moedil/common/printable.h"
#include "moedil/io/logging.h"
#include "moedil/io/webhook.h"

namespace moedil::batch {

std::string batch_outcome(const std::vector<RunOutcome>& outcomes, bool stopped) {
  if (stopped) return "interrupted";
  return any_failed(outcomes) ? "failed" : "completed";
}

nlohmann::json batch_notification(const std::string& batch_name,
                                  const std::vector<RunOutcome>& outcomes,
                                  const std::string& outcome, double seconds) {
  std::map<std::string, int> counts;
  nlohmann::json runs = nlohmann::json::array();
  double acc_sum = 0.0;
  int acc_n = 0;
  for (const RunOutcome& o : outcomes) {
    ++counts[o.status];
    runs.push_back({{"key", o.key},
                    {"name", o.name.empty() ? o.config : o.name},
                    {"status", o.status},
                    {"acc", o.acc ? nlohmann::json(*o.acc) : nlohmann::json(nullptr)},
                    {"error", o.error}});
    if (o.status == "completed" && o.acc) {
      acc_sum += *o.acc;
      ++acc_n;
    }
  }
  std::string text = "moedil batch " + batch_name + " " + outcome + " after " +
                     format_duration(seconds) + ": " + std::to_string(outcomes.size()) + " runs";
  for (const auto& [status, n] : counts) text += ", " + std::to_string(n) + " " + status;
  if (acc_n > 0) {
    char mean[64];
    std::snprintf(mean, sizeof mean, "; mean ACC of the completed %.4f", acc_sum / acc_n);
    text += mean;
  }
  int listed = 0;
  for (const RunOutcome& o : outcomes) {
    if (o.status == "completed" || o.status == "planned") continue;
    if (++listed > 10) {
      text += "\n...";
      break;
    }
    text += "\n" + o.status + " " + o.key + (o.error.empty() ? "" : ": " + o.error);
  }
  const nlohmann::json details = {{"batch", batch_name},
                                  {"outcome", outcome},
                                  {"seconds", seconds},
                                  {"counts", counts},
                                  {"runs", std::move(runs)}};
  return io::webhook_body(text, details);
}

void notify_batch_end(const NotifyConfig& notify, const std::string& batch_name,
                      const std::vector<RunOutcome>& outcomes, bool stopped, double seconds) {
  if (notify.webhook_url.empty()) return;
  const std::string outcome = batch_outcome(outcomes, stopped);
  if (std::find(notify.on.begin(), notify.on.end(), outcome) == notify.on.end()) return;
  auto log = io::logger();
  try {
    const io::WebhookResult r = io::post_webhook(
        notify.webhook_url, batch_notification(batch_name, outcomes, outcome, seconds));
    if (r.sent) {
      log->info("[notify] batch {} sent to {}", outcome, io::redacted_url(notify.webhook_url));
    } else {
      log->warn("[notify] not sent to {}: {}", io::redacted_url(notify.webhook_url),
                printable(r.error));
    }
  } catch (const std::exception& e) {
    log->warn("[notify] not sent: {}", e.what());
  }
}

}  // namespace moedil::batch
