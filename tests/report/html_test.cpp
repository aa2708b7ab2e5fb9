#include "moedil/report/html.h"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "moedil/report/plots.h"
#include "records.h"

namespace moedil::report {
namespace {

namespace fs = std::filesystem;
using testing::make_record;
using testing::TempDir;

std::vector<unsigned char> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReportHtml, Base64Rfc4648Vectors) {
  EXPECT_EQ(base64(bytes("")), "");
  EXPECT_EQ(base64(bytes("f")), "Zg==");
  EXPECT_EQ(base64(bytes("fo")), "Zm8=");
  EXPECT_EQ(base64(bytes("foo")), "Zm9v");
  EXPECT_EQ(base64(bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(base64(bytes("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64(bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64({0xff, 0xfe, 0x00}), "//4A");
}

TEST(ReportHtml, PageEmbedsImagesAndEscapes) {
  HtmlPage page("Report <1>");
  page.heading("Runs & configs");
  page.table(Table{"t", {"a"}, {{Cell("x")}}});
  page.image(bytes("PNG"), "cap \"1\"");
  page.details_begin("more");
  page.paragraph("p<");
  page.details_end();
  const std::string html = page.str();
  EXPECT_EQ(page.image_count(), 1);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>Report &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Runs &amp; configs</h2>"), std::string::npos);
  EXPECT_NE(html.find("src=\"data:image/png;base64,UE5H\""), std::string::npos);
  EXPECT_NE(html.find("alt=\"cap &quot;1&quot;\""), std::string::npos);
  EXPECT_NE(html.find("<details><summary>more</summary>"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos) << "self-contained";
  EXPECT_EQ(html.find("<link"), std::string::npos) << "self-contained";
}

// The page in a real browser: Debian's chromium, headless. Skipped (loudly) when absent.
TEST(ReportHtmlChromium, RendersEveryImageWithoutConsoleErrors) {
  const char* env = std::getenv("MOEDIL_CHROMIUM");
  std::string chromium = env ? env : "";
  if (chromium.empty()) {
    for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
      if (fs::exists(c)) {
        chromium = c;
        break;
      }
    }
  }
  if (chromium.empty() || !fs::exists(chromium)) {
    GTEST_SKIP() << "SKIPPED: chromium not installed (apt-get install chromium, or set "
                    "MOEDIL_CHROMIUM); the HTML page was NOT checked in a browser";
  }
  TempDir tmp;
  const io::RunRecord r = make_record("r", "c");
  HtmlPage page("moedil report test");
  page.paragraph("A page with images.");
  page.table(Table{"numbers", {"k", "v"}, {{Cell("a"), Cell::num(0.5)}}});
  page.image(plot_r_matrix(r.r_matrix, r.domains, "R"), "R-matrix");
  page.image(plot_accuracy_curves(r, "accuracy"), "accuracy");
  page.image(plot_confusion(r.epochs.back().eval[0].confusion, "confusion"), "confusion");
  const fs::path html = tmp.path() / "report.html";
  std::ofstream(html) << page.str();

  const fs::path shot = tmp.path() / "shot.png", dom = tmp.path() / "dom.html",
                 log = tmp.path() / "chromium.log", profile = tmp.path() / "profile";
  const std::string flags = " --headless --no-sandbox --disable-gpu --user-data-dir=" +
                            profile.string() +
                            " --disable-background-networking --no-first-run --hide-scrollbars"
                            " --enable-logging=stderr --v=0 ";
  const std::string url = "file://" + html.string();
  ASSERT_EQ(std::system((chromium + flags + "--window-size=1200,1600 --screenshot=" +
                         shot.string() + " " + url + " >/dev/null 2>" + log.string())
                            .c_str()),
            0)
      << slurp(log);
  ASSERT_EQ(std::system((chromium + flags + "--dump-dom " + url + " >" + dom.string() + " 2>>" +
                         log.string())
                            .c_str()),
            0)
      << slurp(log);

  // Every image loaded: the page's script marks <html data-images="loaded N/N">.
  const std::string dumped = slurp(dom);
  EXPECT_NE(dumped.find("data-images=\"loaded 3/3\""), std::string::npos)
      << dumped.substr(0, 300);
  // No console messages at all (errors, failed loads).
  const std::string messages = slurp(log);
  EXPECT_EQ(messages.find("CONSOLE"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("Uncaught"), std::string::npos) << messages;
  // The screenshot is a real rendering, not a blank page.
  const cv::Mat img = cv::imread(shot.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty()) << messages;
  EXPECT_EQ(img.cols, 1200);
  cv::Scalar mean, stddev;
  cv::meanStdDev(img, mean, stddev);
  EXPECT_GT(stddev[0] + stddev[1] + stddev[2], 20.0);
  EXPECT_LT(mean[0], 250.0) << "nearly all white";
}

}  // namespace
}  // namespace moedil::report
