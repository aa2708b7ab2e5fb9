#include "moedil/report/html.h"

#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>

#include "chromium.h"
#include "moedil/batch/text.h"
#include "moedil/common/error.h"
#include "moedil/report/vega_runtime.h"
#include "moedil/report/vega_specs.h"
#include "records.h"

namespace moedil::report {
namespace {

namespace fs = std::filesystem;
using testing::make_record;
using testing::png_size;
using testing::slurp_file;
using testing::TempDir;

std::vector<unsigned char> bytes(const std::string& s) { return {s.begin(), s.end()}; }

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

TEST(ReportHtml, Base64DecodeIsTheInverseAndRefusesOtherText) {
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(base64_decode(base64(bytes(s))), bytes(s)) << s;
  }
  std::vector<unsigned char> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(base64_decode(base64(all)), all);
  EXPECT_EQ(base64_decode("Zm8"), bytes("fo")) << "padding optional";
  EXPECT_THROW(base64_decode("Zm9v!"), DataError);
  EXPECT_THROW(base64_decode("Zm9vY"), DataError) << "a lone character";
  EXPECT_THROW(base64_decode("Z==="), DataError);
}

TEST(ReportHtml, JsonForScriptCannotCloseTheElement) {
  const nlohmann::json j = {{"t", "</script><script>alert(1)</script>"}, {"u", "<!--<script>"}};
  const std::string s = json_for_script(j);
  EXPECT_EQ(s.find('<'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(s), j) << "reads back the same";
  EXPECT_NO_THROW(json_for_script(nlohmann::json("bad \xff utf-8")));
}

TEST(ReportHtml, PageEmbedsFiguresTheirLinksAndEscapes) {
  HtmlPage page("Report <1>");
  page.set_vega("var vega = {};", "");
  page.heading("Runs & configs");
  page.table(Table{"t", {"a"}, {{Cell("x")}}});
  page.figure({{"title", "</script>"}}, "cap \"1\"", {{"Vega spec", "runs/a b/r.vg.json"}});
  page.details_begin("more");
  page.paragraph("p<");
  page.details_end();
  const std::string html = page.str();
  EXPECT_EQ(page.figure_count(), 1);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>Report &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h2>Runs &amp; configs</h2>"), std::string::npos);
  EXPECT_NE(html.find("<script>\nvar vega = {};</script>"), std::string::npos) << "Vega inlined";
  EXPECT_NE(html.find("<script type=\"application/json\" id=\"fig1-spec\">{\"title\":\"\\u003c/script>\"}</script>"),
            std::string::npos);
  EXPECT_NE(html.find("aria-label=\"cap &quot;1&quot;\""), std::string::npos);
  EXPECT_NE(html.find("<a href=\"runs/a b/r.vg.json\">Vega spec</a>"), std::string::npos);
  EXPECT_NE(html.find("<details><summary>more</summary>"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos) << "self-contained";
  EXPECT_EQ(html.find("<link"), std::string::npos) << "self-contained";
}

TEST(ReportHtml, WithoutVegaThePageSaysWhyAndWhereTheSpecsAre) {
  HtmlPage page("r");
  page.set_vega("", "Vega is not installed: /nowhere/vega-util.min.js is missing (apt-get install libjs-vega)");
  page.figure({{"marks", nlohmann::json::array()}}, "R-matrix");
  const std::string html = page.str();
  EXPECT_NE(html.find("The figures cannot be drawn: Vega is not installed"), std::string::npos);
  EXPECT_NE(html.find("apt-get install libjs-vega"), std::string::npos);
  HtmlPage tables_only("r");
  EXPECT_EQ(tables_only.str().find("cannot be drawn"), std::string::npos) << "no figures, no note";
}

TEST(VegaRuntime, MissingModulesNameThePackage) {
  TempDir tmp;
  const VegaRuntime rt = load_vega_runtime(tmp.path());
  EXPECT_FALSE(rt.ok());
  EXPECT_NE(rt.missing.find((tmp.path() / "vega-util.min.js").string()), std::string::npos) << rt.missing;
  EXPECT_NE(rt.missing.find("apt-get install libjs-vega"), std::string::npos);
  EXPECT_NE(rt.missing.find("MOEDIL_VEGA_DIR"), std::string::npos);
}

TEST(VegaRuntime, WrapsEveryModuleAndRegistersTheTransforms) {
  TempDir tmp;
  // Stand-in modules: each exports its name; the runtime must wrap all 19 in order.
  const char* files[] = {"vega-util", "vega-statistics", "vega-time", "vega-format", "vega-loader",
                         "vega-dataflow", "vega-scale", "vega-canvas", "vega-scenegraph", "vega-expression",
                         "vega-selection", "vega-event-selector", "vega-functions", "vega-runtime",
                         "vega-view", "vega-parser", "vega-encode", "vega-transforms", "vega-view-transforms"};
  for (const char* f : files) {
    testing::write_text(tmp.path() / (std::string(f) + ".min.js"),
                        std::string("exports.") + "x='</script>';\n//# sourceMappingURL=" + f + ".min.js.map\n");
  }
  const VegaRuntime rt = load_vega_runtime(tmp.path());
  ASSERT_TRUE(rt.ok()) << rt.missing;
  EXPECT_NE(rt.script.find("def('vega-selections'"), std::string::npos) << "required by that name";
  EXPECT_LT(rt.script.find("def('vega-util'"), rt.script.find("def('vega-view'"));
  EXPECT_EQ(rt.script.find("sourceMappingURL"), std::string::npos);
  EXPECT_EQ(rt.script.find("</script"), std::string::npos);
  EXPECT_NE(rt.script.find("M['vega-dataflow'].transforms"), std::string::npos);
}

// The report's figures in a real browser: Debian's chromium, headless, with Debian's
// libjs-vega. Skipped (loudly) when either is absent.
TEST(ReportHtmlChromium, EveryViewRendersWithoutConsoleErrors) {
  MOEDIL_REQUIRE_BROWSER(chromium, vega);
  TempDir tmp;
  io::RunRecord r = make_record("r", "c");
  io::RunRecord big = make_record("big", "c");
  std::vector<std::vector<int64_t>> m(100, std::vector<int64_t>(100, 1));
  for (int i = 0; i < 100; ++i) m[i][i] = 50;
  for (auto& e : big.epochs.back().eval) e.confusion = m;
  HtmlPage page("moedil report test");
  page.set_vega(vega.script, vega.missing);
  page.paragraph("A page with figures.");
  page.table(Table{"numbers", {"k", "v"}, {{Cell("a"), Cell::num(0.5)}}});
  for (const VegaFigure& f : {r_matrix_figure(r, ""), accuracy_figure(r, ""), confusion_figure(r, ""),
                              usage_figure(r, ""), confusion_figure(big, ""),
                              group_accuracy_figure("c", {&r, &big}, "")}) {
    page.figure(f.spec, f.caption);
  }
  const fs::path html = tmp.path() / "report.html";
  testing::write_text(html, page.str());

  const fs::path shot = tmp.path() / "shot.png", dom = tmp.path() / "dom.html",
                 log = tmp.path() / "chromium.log", profile = tmp.path() / "profile";
  const std::string flags = chromium_offline_flags() + "--user-data-dir=" +
                            batch::shell_quote(profile.string()) +
                            " --hide-scrollbars --enable-logging=stderr --v=0"
                            " --virtual-time-budget=30000 ";
  const std::string browser = batch::shell_quote(chromium->string());
  const std::string url = batch::shell_quote("file://" + html.string());
  ASSERT_EQ(std::system((browser + flags + "--window-size=1200,2400 --screenshot=" +
                         batch::shell_quote(shot.string()) + " " + url + " >/dev/null 2>" +
                         batch::shell_quote(log.string()))
                            .c_str()),
            0)
      << slurp_file(log);
  ASSERT_EQ(std::system((browser + flags + "--dump-dom " + url + " >" + batch::shell_quote(dom.string()) +
                         " 2>>" + batch::shell_quote(log.string()))
                            .c_str()),
            0)
      << slurp_file(log);

  const std::string dumped = slurp_file(dom);
  EXPECT_NE(dumped.find("data-views=\"rendered 6/6\""), std::string::npos) << dumped.substr(0, 300);
  EXPECT_NE(dumped.find("data-view-errors=\"0\""), std::string::npos) << dumped.substr(0, 300);
  // Every view drew its marks: the scenegraph item count of each figure, in page order.
  std::vector<long> items;
  const std::regex re("data-items=\"([0-9]+)\"");
  for (auto it = std::sregex_iterator(dumped.begin(), dumped.end(), re); it != std::sregex_iterator(); ++it)
    items.push_back(std::stol((*it)[1]));
  ASSERT_EQ(items.size(), 6u) << dumped.substr(0, 2000);
  EXPECT_GT(items[0], 4 * 2) << "R-matrix: 4 cells and their values";
  EXPECT_GT(items[2], 4 * 2) << "confusion: 4 cells and their counts";
  EXPECT_GT(items[4], 100 * 100) << "100-class confusion: 10,000 cells";
  // The menus (domain, layer, highlight) are on the page.
  EXPECT_NE(dumped.find("vega-bindings"), std::string::npos);
  // No console messages at all (errors, failed loads).
  const std::string messages = slurp_file(log);
  EXPECT_EQ(messages.find("CONSOLE"), std::string::npos) << messages;
  EXPECT_EQ(messages.find("Uncaught"), std::string::npos) << messages;
  // The screenshot is a real rendering: a full-width PNG with far more than a blank page holds.
  const std::string png = slurp_file(shot);
  EXPECT_EQ(png_size(png).first, 1200u);
  EXPECT_GT(png.size(), 60000u) << "a blank 1200x2400 page is a few kB";
}

}  // namespace
}  // namespace moedil::report
