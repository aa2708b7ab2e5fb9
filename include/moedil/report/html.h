#pragma once
// One self-contained HTML page: tables inline, figures as Vega views (the spec inline, the Vega
// library inlined from Debian's libjs-vega, see vega_runtime.h), a little CSS, and a script
// that draws every view and marks the page when done:
// <html data-views="rendered K/N" data-view-errors="E">, and on each view's element
// data-items (scenegraph items drawn) or data-error, so a headless browser can check it.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moedil/report/table.h"

namespace moedil::report {

/// RFC 4648 base64 with padding.
std::string base64(const std::vector<unsigned char>& bytes);
/// The inverse of base64 (padding optional, no whitespace). Throws DataError on any other
/// character or a truncated group.
std::vector<unsigned char> base64_decode(const std::string& text);

/// `json` as text that can sit inside an HTML <script> element: every '<' written \u003c,
/// which JSON reads back the same; invalid UTF-8 replaced.
std::string json_for_script(const nlohmann::json& json);

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);
  /// The script that defines `vega` (VegaRuntime::script). Without it (""), each figure says
  /// `missing` instead of drawing itself.
  void set_vega(std::string runtime_script, std::string missing = "");
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);
  void table(const Table& t);
  /// A Vega view of `spec` with a caption, and links to files beside the page (the spec, the
  /// data as CSV, the PNG), each {label, relative path}.
  void figure(const nlohmann::json& spec, const std::string& caption,
              const std::vector<std::pair<std::string, std::string>>& links = {});
  /// A collapsible block: everything added until details_end() is hidden behind `summary`.
  void details_begin(const std::string& summary);
  void details_end();
  int figure_count() const { return figures_; }
  /// The complete document.
  std::string str() const;

 private:
  std::string title_;
  std::string body_;
  std::string vega_;
  std::string vega_missing_;
  int figures_ = 0;
};

}  // namespace moedil::report
