#include "moedil/report/html.h"

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

HtmlPage::HtmlPage(std::string title) : title_(std::move(title)) {}

void HtmlPage::heading(const std::string& text, int level) {
  const std::string h = "h" + std::to_string(level < 1 ? 1 : level > 6 ? 6 : level);
  body_ += "<" + h + ">" + html_escape(text) + "</" + h + ">\n";
}

void HtmlPage::paragraph(const std::string& text) { body_ += "<p>" + html_escape(text) + "</p>\n"; }

void HtmlPage::table(const Table& t) {
  body_ += "<div class=\"scroll\">" + to_html(t) + "</div>\n";
}

void HtmlPage::image(const std::vector<unsigned char>& png, const std::string& caption) {
  ++images_;
  body_ += "<figure><img alt=\"" + html_escape(caption) + "\" src=\"data:image/png;base64," +
           base64(png) + "\"><figcaption>" + html_escape(caption) + "</figcaption></figure>\n";
}

void HtmlPage::details_begin(const std::string& summary) {
  body_ += "<details><summary>" + html_escape(summary) + "</summary>\n";
}

void HtmlPage::details_end() { body_ += "</details>\n"; }

std::string HtmlPage::str() const {
  return "<!DOCTYPE html>\n<html lang=\"en\" data-images=\"pending\">\n<head>\n"
         "<meta charset=\"utf-8\">\n<title>" +
         html_escape(title_) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}\n"
         "table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:13px}\n"
         "caption{text-align:left;font-weight:bold;padding:4px 0}\n"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\n"
         "th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
         "figure{display:inline-block;margin:0.5em 1em 1em 0;vertical-align:top}\n"
         "img{max-width:100%;border:1px solid #ddd}figcaption{font-size:12px;color:#555}\n"
         ".scroll{overflow-x:auto}details{margin:0.5em 0}summary{cursor:pointer}\n"
         "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ +
         "<script>\nwindow.addEventListener('load', function () {\n"
         "  var imgs = document.images, ok = 0;\n"
         "  for (var i = 0; i < imgs.length; ++i) if (imgs[i].complete && imgs[i].naturalWidth > 0) ++ok;\n"
         "  document.documentElement.setAttribute('data-images', 'loaded ' + ok + '/' + imgs.length);\n"
         "});\n</script>\n</body>\n</html>\n";
}

}  // namespace moedil::report
