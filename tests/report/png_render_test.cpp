#include "moedil/report/png_render.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "chromium.h"
#include "moedil/common/error.h"
#include "moedil/report/vega_specs.h"
#include "records.h"

namespace moedil::report {
namespace {

namespace fs = std::filesystem;
using testing::make_record;
using testing::png_size;
using testing::TempDir;

using testing::ScopedEnv;

using testing::fake_browser;

TEST(PngRender, FindChromiumHonoursTheEnvironment) {
  TempDir tmp;
  {
    ScopedEnv env("MOEDIL_CHROMIUM", (tmp.path() / "nope").string());
    EXPECT_FALSE(find_chromium()) << "a named browser that does not exist is no browser";
  }
  const fs::path fake = fake_browser(tmp.path(), "exit 0");
  ScopedEnv env("MOEDIL_CHROMIUM", fake.string());
  EXPECT_EQ(find_chromium(), fake);
}

// The browser gets the flags that keep it off the network, each as one argument: the host
// resolver rule has spaces and must survive the shell.
TEST(PngRender, TheBrowserIsStartedOffline) {
  TempDir tmp;
  const fs::path args = tmp.path() / "args";
  const fs::path fake =
      fake_browser(tmp.path(), "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + args.string() + "'");
  const nlohmann::json spec = nlohmann::json::object();
  EXPECT_THROW(render_pngs(fake, "", {{&spec, {}}}), IoError) << "it drew nothing";
  const std::string got = "\n" + testing::slurp_file(args);  // each argument on a line
  for (const char* flag : {"--headless", "--disable-background-networking", "--disable-component-update",
                           "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND"}) {
    EXPECT_NE(got.find(std::string("\n") + flag + "\n"), std::string::npos) << flag << " in\n" << got;
  }
}

TEST(PngRender, ABrowserThatFailsOrHangsIsAnIoErrorWithItsMessage) {
  TempDir tmp;
  const nlohmann::json spec = {{"marks", nlohmann::json::array()}};
  const std::vector<PngJob> jobs{{&spec, nlohmann::json::object()}};
  const fs::path failing = fake_browser(tmp.path(), "echo 'cannot open display' >&2; exit 3");
  try {
    render_pngs(failing, "", jobs);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("failed (exit 3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot open display"), std::string::npos) << e.what();
  }
  const fs::path hanging = fake_browser(tmp.path(), "sleep 30");
  try {
    render_pngs(hanging, "", jobs, 2.0, 1);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("within 1 s"), std::string::npos) << e.what();
  }
  const fs::path silent = fake_browser(tmp.path(), "echo '<html></html>'");
  EXPECT_THROW(render_pngs(silent, "", jobs), IoError) << "no image came back";
  EXPECT_TRUE(render_pngs(silent, "", {}).empty()) << "nothing to draw, no browser started";
}

TEST(PngRenderChromium, DrawsEachJobWithItsSignalsAtTwiceTheSize) {
  MOEDIL_REQUIRE_BROWSER(chromium, vega);
  const io::RunRecord r = make_record("r", "c");
  const VegaFigure confusion = confusion_figure(r, "");
  const VegaFigure matrix = r_matrix_figure(r, "");
  std::vector<PngJob> jobs;
  for (const auto& p : confusion.pngs) jobs.push_back({&confusion.spec, p.signals});
  jobs.push_back({&matrix.spec, nlohmann::json::object()});
  const auto pngs = render_pngs(*chromium, vega.script, jobs, 2.0);
  ASSERT_EQ(pngs.size(), 3u);
  for (std::size_t i = 0; i < pngs.size(); ++i) {
    const nlohmann::json& spec = *jobs[i].spec;
    const auto [w, h] = png_size(std::string(pngs[i].begin(), pngs[i].end()));
    EXPECT_GT(w, 2 * spec.at("width").get<double>()) << i << ": scale 2, plus axes and legend";
    EXPECT_GT(h, 2 * spec.at("height").get<double>()) << i;
  }
  EXPECT_NE(pngs[0], pngs[1]) << "domain a and domain b drawn, not the menu's default twice";
  const auto once = render_pngs(*chromium, vega.script, {jobs[0]}, 1.0);
  EXPECT_LT(png_size(std::string(once[0].begin(), once[0].end())).first,
            png_size(std::string(pngs[0].begin(), pngs[0].end())).first);
}

TEST(PngRenderChromium, ASpecVegaRefusesIsAnErrorNamingTheFigure) {
  MOEDIL_REQUIRE_BROWSER(chromium, vega);
  const nlohmann::json good = r_matrix_figure(make_record("r", "c"), "").spec;
  const nlohmann::json bad = {{"marks", {{{"type", "rect"}, {"from", {{"data", "no-such-data"}}}}}}};
  try {
    render_pngs(*chromium, vega.script, {{&good, {}}, {&bad, {}}});
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("figure 2 could not be drawn"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no-such-data"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moedil::report
