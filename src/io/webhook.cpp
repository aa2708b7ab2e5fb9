#include "moedil/io/webhook.h"

#if MOEDIL_WITH_CURL
#include <curl/curl.h>
#endif

#include <mutex>

namespace moedil::io {

nlohmann::json webhook_body(const std::string& text, const nlohmann::json& details) {
  constexpr std::size_t kDiscordLimit = 2000;
  std::string shown = text;
  if (shown.size() > kDiscordLimit) {
    shown.resize(kDiscordLimit - 3);
    // Not in the middle of a UTF-8 sequence: drop continuation bytes at the cut.
    while (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0xC0) == 0x80) {
      shown.pop_back();
    }
    if (!shown.empty() && (static_cast<unsigned char>(shown.back()) & 0x80) != 0) shown.pop_back();
    shown += "...";
  }
  return {{"content", shown}, {"text", shown}, {"moedil", details}};
}

std::string redacted_url(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "(not a URL)";
  const std::size_t path = url.find('/', scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path) + "/...";
}

#if MOEDIL_WITH_CURL

namespace {

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

}  // namespace

WebhookResult post_webhook(const std::string& url, const nlohmann::json& body,
                           double timeout_seconds) {
  WebhookResult result;
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    result.error = "not an http(s) URL";
    return result;
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    result.error = "libcurl could not start";
    return result;
  }
  const std::string payload = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_seconds * 1000.0));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.http_status);
    result.sent = result.http_status >= 200 && result.http_status < 300;
    if (!result.sent) result.error = "the server answered HTTP " + std::to_string(result.http_status);
  } else {
    result.error = error[0] != 0 ? error : curl_easy_strerror(code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

#else

WebhookResult post_webhook(const std::string&, const nlohmann::json&, double) {
  WebhookResult result;
  result.error = "this moedil was built without libcurl (portable build): no notification sent";
  return result;
}

#endif

}  // namespace moedil::io
