#pragma once
// The message a batch sends to its metaconfig's webhook when it ends (metaconfig "notify"):
// one summary per batch, never one per run.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/batch/metaconfig.h"
#include "moedil/batch/runner.h"

namespace moedil::batch {

/// "interrupted" when the batch was stopped, else "failed" when any run failed, else
/// "completed".
std::string batch_outcome(const std::vector<RunOutcome>& outcomes, bool stopped);

/// The webhook body (io::webhook_body): one line of counts, then the runs that did not
/// complete with their errors; details hold every run's key, name, status, ACC and error.
nlohmann::json batch_notification(const std::string& batch_name,
                                  const std::vector<RunOutcome>& outcomes,
                                  const std::string& outcome, double seconds);

/// Posts batch_notification to notify.webhook_url when one is set and `outcome` is one of
/// notify.on; logs what became of it. Never throws: a notification never fails a batch.
void notify_batch_end(const NotifyConfig& notify, const std::string& batch_name,
                      const std::vector<RunOutcome>& outcomes, bool stopped, double seconds);

}  // namespace moedil::batch
