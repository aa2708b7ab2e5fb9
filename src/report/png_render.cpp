#include "moedil/report/png_render.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>
#include <sys/wait.h>

#include "moedil/batch/text.h"
#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil/report/html.h"

namespace moedil::report {
namespace fs = std::filesystem;
namespace {

// The last lines of the browser's log that are not its usual noise (D-Bus, GPU probing).
std::string log_excerpt(const std::string& log) {
  std::istringstream in(log);
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find("dbus") != std::string::npos || line.find("bus.cc") != std::string::npos) continue;
    kept.push_back(line);
  }
  std::string out;
  for (std::size_t i = kept.size() > 8 ? kept.size() - 8 : 0; i < kept.size(); ++i) out += "\n  " + kept[i];
  return out.empty() ? " (no message)" : out;
}

std::string unescape_attribute(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (std::size_t i = 0; (i = s.find(from, i)) != std::string::npos; i += std::string(to).size())
      s.replace(i, std::string(from).size(), to);
  }
  return s;
}

// A private directory of its own (mkdtemp: a fresh name, mode 0700), removed with everything
// in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "moedil-png-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw IoError("cannot create a temporary directory from " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A file: URL for an absolute path, every byte outside [A-Za-z0-9/._~-] percent-encoded.
std::string file_url(const fs::path& p) {
  static const char* hex = "0123456789ABCDEF";
  std::string url = "file://";
  for (unsigned char ch : p.string()) {
    if (std::isalnum(ch) || ch == '/' || ch == '.' || ch == '_' || ch == '~' || ch == '-') {
      url += static_cast<char>(ch);
    } else {
      url += '%';
      url += hex[ch >> 4];
      url += hex[ch & 15];
    }
  }
  return url;
}

}  // namespace

std::optional<fs::path> find_chromium() {
  if (const char* env = std::getenv("MOEDIL_CHROMIUM"); env && *env) {
    if (!fs::exists(env)) return std::nullopt;
    return fs::path(env);
  }
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/chromium-headless-shell"}) {
    if (fs::exists(c)) return fs::path(c);
  }
  return std::nullopt;
}

std::string chromium_offline_flags() {
  return " --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --disable-quic " +
         batch::shell_quote("--host-resolver-rules=MAP * ~NOTFOUND") + " ";
}

std::vector<std::vector<unsigned char>> render_pngs(const fs::path& chromium, const std::string& vega_script,
                                                    const std::vector<PngJob>& jobs, double scale,
                                                    int timeout_s) {
  if (jobs.empty()) return {};
  // Each spec once (a confusion spec serves one PNG per domain), jobs point at it.
  std::map<const nlohmann::json*, std::size_t> index;
  nlohmann::json specs = nlohmann::json::array(), list = nlohmann::json::array();
  for (const PngJob& job : jobs) {
    if (job.spec == nullptr) throw IoError("render_pngs: a job without a spec");
    auto [it, added] = index.emplace(job.spec, specs.size());
    if (added) specs.push_back(*job.spec);
    list.push_back({{"spec", it->second}, {"signals", job.signals}});
  }
  TempDir tmp;
  const fs::path html = tmp.path() / "render.html", dom = tmp.path() / "dom.html",
                 log = tmp.path() / "chromium.log";
  {
    std::ofstream out(html, std::ios::binary);
    out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><script>\n" << vega_script
        << "</script></head><body>\n<script type=\"application/json\" id=\"specs\">" << json_for_script(specs)
        << "</script>\n<script type=\"application/json\" id=\"jobs\">" << json_for_script(list)
        << "</script>\n<script>\n(async function () {\n"
           "  var specs = JSON.parse(document.getElementById('specs').textContent);\n"
           "  var jobs = JSON.parse(document.getElementById('jobs').textContent);\n"
           "  for (var i = 0; i < jobs.length; ++i) {\n"
           "    var out = document.createElement('pre');\n"
           "    out.id = 'png-' + i;\n"
           "    document.body.appendChild(out);\n"
           "    try {\n"
           "      var view = new vega.View(vega.parse(specs[jobs[i].spec]), {renderer: 'none'});\n"
           "      for (var k in jobs[i].signals) view.signal(k, jobs[i].signals[k]);\n"
           "      await view.runAsync();\n"
           "      out.textContent = await view.toImageURL('png', "
        << scale
        << ");\n"
           "      view.finalize();\n"
           "    } catch (e) { out.setAttribute('data-error', String(e)); }\n"
           "  }\n"
           "  document.documentElement.setAttribute('data-done', String(jobs.length));\n"
           "})();\n</script></body></html>\n";
    if (!out) throw IoError("cannot write " + html.string());
  }
  using batch::shell_quote;
  const std::string command =
      "timeout --kill-after=10 " + std::to_string(timeout_s) + " " + shell_quote(chromium.string()) +
      chromium_offline_flags() + "--disable-extensions --hide-scrollbars --mute-audio"
      " --user-data-dir=" +
      shell_quote((tmp.path() / "profile").string()) + " --virtual-time-budget=" +
      std::to_string(timeout_s * 1000) + " --dump-dom " + shell_quote(file_url(html)) + " >" +
      shell_quote(dom.string()) + " 2>" + shell_quote(log.string()) + " </dev/null";
  const int status = std::system(command.c_str());
  const int rc = status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (rc == 124) {
    throw IoError(chromium.string() + " did not finish drawing the figures within " +
                  std::to_string(timeout_s) + " s");
  }
  if (rc == 137) {
    throw IoError(chromium.string() + " was killed (out of time after " + std::to_string(timeout_s) +
                  " s, or out of memory)");
  }
  if (rc != 0) {
    throw IoError(chromium.string() + " failed (exit " + std::to_string(rc) + "):" + log_excerpt(read_input_file(log)));
  }
  const std::string page = read_input_file(dom);
  if (page.find("data-done=\"" + std::to_string(jobs.size()) + "\"") == std::string::npos) {
    throw IoError(chromium.string() + " stopped before drawing every figure:" + log_excerpt(read_input_file(log)));
  }
  std::vector<std::vector<unsigned char>> pngs;
  const std::string prefix = "data:image/png;base64,";
  std::size_t from = 0;  // the outputs are in job order: each search starts after the last
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const std::string open = "<pre id=\"png-" + std::to_string(i) + "\"";
    const std::size_t at = page.find(open, from);
    const std::size_t gt = at == std::string::npos ? at : page.find('>', at);
    const std::size_t end = gt == std::string::npos ? gt : page.find("</pre>", gt);
    if (end == std::string::npos) throw IoError("figure " + std::to_string(i + 1) + ": no image came back");
    const std::string attrs = page.substr(at + open.size(), gt - at - open.size());
    const std::size_t err = attrs.find("data-error=\"");
    if (err != std::string::npos) {
      const std::size_t q = attrs.find('"', err + 12);
      throw IoError("figure " + std::to_string(i + 1) + " could not be drawn: " +
                    unescape_attribute(attrs.substr(err + 12, q - err - 12)));
    }
    from = end;
    const std::string url = page.substr(gt + 1, end - gt - 1);
    if (url.rfind(prefix, 0) != 0) throw IoError("figure " + std::to_string(i + 1) + ": not a PNG data URL");
    try {
      pngs.push_back(base64_decode(url.substr(prefix.size())));
    } catch (const DataError& e) {
      throw IoError("figure " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  return pngs;
}

}  // namespace moedil::report
