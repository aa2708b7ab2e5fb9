#include "moedil/io/webhook.h"

#include <gtest/gtest.h>

#include <chrono>

#include "../support/one_shot_http_server.h"

namespace moedil::io {
namespace {
using testing_support::OneShotHttpServer;

TEST(Webhook, PostsTheJsonBodyToTheUrl) {
  OneShotHttpServer server(204);
  const nlohmann::json body = webhook_body("batch done", {{"runs", 3}});
  const WebhookResult r = post_webhook(server.url("/api/webhooks/123/secret"), body);
  EXPECT_TRUE(r.sent) << r.error;
  EXPECT_EQ(r.http_status, 204);
  const std::string request = server.request();
  EXPECT_EQ(request.rfind("POST /api/webhooks/123/secret HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos) << request;
  const nlohmann::json received = nlohmann::json::parse(server.body());
  EXPECT_EQ(received["content"], "batch done");  // Discord
  EXPECT_EQ(received["text"], "batch done");     // Slack
  EXPECT_EQ(received["moedil"]["runs"], 3);
}

TEST(Webhook, FailuresAreReportedNeverThrown) {
  {
    OneShotHttpServer server(404);
    const WebhookResult r = post_webhook(server.url("/gone"), webhook_body("x", {}));
    EXPECT_FALSE(r.sent);
    EXPECT_EQ(r.http_status, 404);
    EXPECT_NE(r.error.find("HTTP 404"), std::string::npos) << r.error;
  }
  int port = 0;
  { port = OneShotHttpServer(200).port(); }  // closed again: nobody listens there now
  const auto start = std::chrono::steady_clock::now();
  const WebhookResult refused =
      post_webhook("http://127.0.0.1:" + std::to_string(port) + "/x", webhook_body("x", {}), 2.0);
  EXPECT_FALSE(refused.sent);
  EXPECT_FALSE(refused.error.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(post_webhook("file:///etc/passwd", webhook_body("x", {})).sent);
}

TEST(Webhook, LongTextIsCutForDiscordAndUrlsAreLoggedWithoutTheirSecret) {
  const std::string long_text(5000, 'a');
  const nlohmann::json b = webhook_body(long_text + "\u00e9", {});
  EXPECT_EQ(b["content"].get<std::string>().size(), 2000u);
  EXPECT_EQ(b["content"].get<std::string>().substr(1997), "...");
  EXPECT_EQ(redacted_url("https://discord.com/api/webhooks/1/token"), "https://discord.com/...");
  EXPECT_EQ(redacted_url("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
}

}  // namespace
}  // namespace moedil::io
