#include "moedil/batch/notify.h"

#include <gtest/gtest.h>

#include "../support/one_shot_http_server.h"

namespace moedil::batch {
namespace {
using testing_support::OneShotHttpServer;

std::vector<RunOutcome> three_runs() {
  std::vector<RunOutcome> out(3);
  out[0].key = "quickstart-g0-aaaaaaaa";
  out[0].status = "completed";
  out[0].acc = 0.5;
  out[1].key = "quickstart-g1-bbbbbbbb";
  out[1].status = "completed";
  out[1].acc = 0.7;
  out[2].key = "replay-g0-cccccccc";
  out[2].status = "failed";
  out[2].error = "non-finite loss at domain 2/5 (rot30), epoch 1/2, step 3/75";
  return out;
}

TEST(Notify, OutcomeOfABatch) {
  std::vector<RunOutcome> runs = three_runs();
  EXPECT_EQ(batch_outcome(runs, false), "failed");
  EXPECT_EQ(batch_outcome(runs, true), "interrupted");
  runs.pop_back();
  EXPECT_EQ(batch_outcome(runs, false), "completed");
}

TEST(Notify, OneMessageSaysWhatHappenedToTheBatch) {
  const nlohmann::json body = batch_notification("sweep", three_runs(), "failed", 3725.0);
  const std::string text = body["content"];
  EXPECT_EQ(text,
            "moedil batch sweep failed after 1h02m: 3 runs, 2 completed, 1 failed; mean ACC of "
            "the completed 0.6000\n"
            "failed replay-g0-cccccccc: non-finite loss at domain 2/5 (rot30), epoch 1/2, step "
            "3/75");
  EXPECT_EQ(body["text"], text);
  EXPECT_EQ(body["moedil"]["counts"]["completed"], 2);
  EXPECT_EQ(body["moedil"]["runs"][2]["error"], three_runs()[2].error);
  EXPECT_TRUE(body["moedil"]["runs"][2]["acc"].is_null());
}

TEST(Notify, SentOnlyForTheOutcomesAskedFor) {
  {
    OneShotHttpServer server(200);
    NotifyConfig notify;
    notify.webhook_url = server.url("/hook");
    notify_batch_end(notify, "sweep", three_runs(), false, 10.0);
    const nlohmann::json got = nlohmann::json::parse(server.body());
    EXPECT_EQ(got["moedil"]["outcome"], "failed");
  }
  {
    OneShotHttpServer server(200);
    NotifyConfig notify;
    notify.webhook_url = server.url("/hook");
    notify.on = {"completed"};
    notify_batch_end(notify, "sweep", three_runs(), false, 10.0);  // failed: not asked for
    notify_batch_end(notify, "sweep", {three_runs()[0]}, false, 10.0);
    EXPECT_EQ(nlohmann::json::parse(server.body())["moedil"]["outcome"], "completed");
  }
  // Nowhere to send to: nothing happens, nothing is thrown.
  NotifyConfig dead;
  dead.webhook_url = "http://127.0.0.1:1/hook";
  EXPECT_NO_THROW(notify_batch_end(dead, "sweep", three_runs(), false, 1.0));
}

}  // namespace
}  // namespace moedil::batch
