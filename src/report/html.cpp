#include "moedil/report/html.h"

#include "moedil/common/error.h"

namespace moedil::report {

std::string base64(const std::vector<unsigned char>& b) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    const unsigned v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i + 1 == b.size()) {
    const unsigned v = b[i] << 16;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == b.size()) {
    const unsigned v = (b[i] << 16) | (b[i + 1] << 8);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<unsigned char> base64_decode(const std::string& text) {
  std::size_t n = text.size();
  while (n > 0 && text[n - 1] == '=') --n;
  if (text.size() - n > 2) throw DataError("base64: more than two '=' at the end");
  auto value = [&](std::size_t i) -> unsigned {
    const char c = text[i];
    if (c >= 'A' && c <= 'Z') return static_cast<unsigned>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<unsigned>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    throw DataError("base64: character " + std::to_string(static_cast<int>(c)) + " at " +
                    std::to_string(i) + " is not base64");
  };
  if (n % 4 == 1) throw DataError("base64: truncated (a lone character in the last group)");
  std::vector<unsigned char> out;
  out.reserve(n / 4 * 3 + 2);
  std::size_t i = 0;
  for (; i + 3 < n; i += 4) {
    const unsigned v = value(i) << 18 | value(i + 1) << 12 | value(i + 2) << 6 | value(i + 3);
    out.push_back(static_cast<unsigned char>(v >> 16));
    out.push_back(static_cast<unsigned char>(v >> 8));
    out.push_back(static_cast<unsigned char>(v));
  }
  if (n - i == 2) {
    const unsigned v = value(i) << 18 | value(i + 1) << 12;
    out.push_back(static_cast<unsigned char>(v >> 16));
  } else if (n - i == 3) {
    const unsigned v = value(i) << 18 | value(i + 1) << 12 | value(i + 2) << 6;
    out.push_back(static_cast<unsigned char>(v >> 16));
    out.push_back(static_cast<unsigned char>(v >> 8));
  }
  return out;
}

std::string json_for_script(const nlohmann::json& json) {
  const std::string dumped = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // '<' only occurs inside JSON strings, where \u003c reads back the same; without any '<' the
  // HTML parser cannot see "</script" or "<!--" (which would change where the element ends).
  std::string s;
  s.reserve(dumped.size());
  for (char ch : dumped) {
    if (ch == '<') s += "\\u003c";
    else s += ch;
  }
  return s;
}

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::set_vega(std::string runtime_script, std::string missing) {
  vega_ = std::move(runtime_script);
  vega_missing_ = std::move(missing);
}

void HtmlPage::heading(const std::string& text, int level) {
  const std::string h = "h" + std::to_string(level < 1 ? 1 : level > 6 ? 6 : level);
  body_ += "<" + h + ">" + html_escape(text) + "</" + h + ">\n";
}

void HtmlPage::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void HtmlPage::table(const Table& t) {
  body_ += "<div class=\"scroll\">" + to_html(t) + "</div>\n";
}

void HtmlPage::figure(const nlohmann::json& spec, const std::string& caption,
                      const std::vector<std::pair<std::string, std::string>>& links) {
  const std::string id = "fig" + std::to_string(++figures_);
  body_ += "<figure><div class=\"vega\" id=\"" + id + "\" data-spec=\"" + id +
           "-spec\" role=\"img\" aria-label=\"" + html_escape(caption) +
           "\"></div>\n<script type=\"application/json\" id=\"" + id + "-spec\">" +
           json_for_script(spec) + "</script>\n<figcaption>" + html_escape(caption);
  if (!links.empty()) {
    body_ += " <span class=\"files\">(";
    for (std::size_t i = 0; i < links.size(); ++i) {
      body_ += std::string(i ? ", " : "") + "<a href=\"" + html_escape(links[i].second) + "\">" +
               html_escape(links[i].first) + "</a>";
    }
    body_ += ")</span>";
  }
  body_ += "</figcaption></figure>\n";
}

void HtmlPage::details_begin(const std::string& summary) {
  body_ += "<details><summary>" + html_escape(summary) + "</summary>\n";
}

void HtmlPage::details_end() { body_ += "</details>\n"; }

std::string HtmlPage::str() const {
  std::string missing = vega_missing_.empty() && vega_.empty()
                            ? "Vega is not available to this page."
                            : vega_missing_;
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\" data-views=\"pending\">\n<head>\n"
      "<meta charset=\"utf-8\">\n<title>" +
      html_escape(title_) +
      "</title>\n<style>\n"
      "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}\n"
      "table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:13px}\n"
      "caption{text-align:left;font-weight:bold;padding:4px 0}\n"
      "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\n"
      "th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
      "figure{display:inline-block;margin:0.5em 1em 1em 0;vertical-align:top;max-width:100%}\n"
      "div.vega{overflow-x:auto;border:1px solid #ddd}figcaption{font-size:12px;color:#555}\n"
      ".vega-bindings{font-size:12px;padding:4px}.vega-bind-name{margin-right:4px}\n"
      ".vega-error{color:#a00;padding:1em;font-size:13px;max-width:40em}\n"
      ".scroll{overflow-x:auto}details{margin:0.5em 0}summary{cursor:pointer}\n"
      "</style>\n";
  if (figures_ > 0 && !vega_.empty()) page += "<script>\n" + vega_ + "</script>\n";
  page += "</head>\n<body>\n<h1>" + html_escape(title_) + "</h1>\n";
  if (figures_ > 0 && vega_.empty()) {
    page += "<p class=\"vega-error\">The figures cannot be drawn: " + html_escape(missing) +
            ". Their Vega specs and data (CSV) are in the files linked under each.</p>\n";
  }
  page += body_;
  // Draws every view; a failure shows on the page and in the console, never stops the others.
  page +=
      "<script>\n(function () {\n"
      "  var root = document.documentElement;\n"
      "  var figs = document.querySelectorAll('div.vega');\n"
      "  var left = figs.length, ok = 0, errors = 0;\n"
      "  function done() {\n"
      "    if (--left > 0) return;\n"
      "    root.setAttribute('data-view-errors', String(errors));\n"
      "    root.setAttribute('data-views', 'rendered ' + ok + '/' + figs.length);\n"
      "  }\n"
      "  function fail(el, why) {\n"
      "    ++errors;\n"
      "    el.setAttribute('data-error', why);\n"
      "    var p = document.createElement('p');\n"
      "    p.className = 'vega-error';\n"
      "    p.textContent = 'This figure could not be drawn: ' + why;\n"
      "    el.appendChild(p);\n"
      "    done();\n"
      "  }\n"
      "  function count(item) {\n"
      "    var n = 1, items = item.items || [];\n"
      "    for (var i = 0; i < items.length; ++i) n += count(items[i]);\n"
      "    return n;\n"
      "  }\n"
      "  if (!figs.length) { left = 1; done(); return; }\n"
      "  Array.prototype.forEach.call(figs, function (el) {\n"
      "    if (typeof vega === 'undefined') { fail(el, " +
      json_for_script(missing) +
      "); return; }\n"
      "    var view;\n"
      "    try {\n"
      "      var spec = JSON.parse(document.getElementById(el.getAttribute('data-spec')).textContent);\n"
      "      view = new vega.View(vega.parse(spec), {renderer: 'canvas', container: el, hover: true});\n"
      "    } catch (e) { console.error(e); fail(el, String(e)); return; }\n"
      "    view.runAsync().then(function () {\n"
      "      el.setAttribute('data-items', String(count(view.scenegraph().root)));\n"
      "      ++ok;\n"
      "      done();\n"
      "    }, function (e) { console.error(e); fail(el, String(e)); });\n"
      "  });\n"
      "})();\n</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace moedil::report
