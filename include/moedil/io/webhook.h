#pragma once
// Notifications: a JSON POST to a webhook (Discord, Slack, or any HTTP endpoint) when a batch
// ends. Torch-free. Sending never throws and never fails what it reports on: a notification
// that cannot be delivered is a warning in the log.
#include <string>

#include <nlohmann/json.hpp>

namespace moedil::io {

/// What became of one POST.
struct WebhookResult {
  bool sent = false;      ///< the server answered 2xx
  long http_status = 0;   ///< 0 when no answer came
  std::string error;      ///< why not sent ("" when sent)
};

/// A body that Discord and Slack webhooks both accept: {"content": text (Discord),
/// "text": text (Slack), "moedil": details (for other endpoints)}; Discord's limit of 2000
/// characters is kept by cutting the text.
nlohmann::json webhook_body(const std::string& text, const nlohmann::json& details);

/// POSTs `body` as application/json to `url` (http or https) with libcurl, at most
/// `timeout_seconds` in all. Never throws. A build without libcurl (the portable build) answers
/// sent = false with the reason.
WebhookResult post_webhook(const std::string& url, const nlohmann::json& body,
                           double timeout_seconds = 10.0);

/// The URL as it may be logged: scheme, host and "/..." (webhook URLs carry their secret in the
/// path).
std::string redacted_url(const std::string& url);

}  // namespace moedil::io
