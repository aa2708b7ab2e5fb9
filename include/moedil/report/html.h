#pragma once
// One self-contained HTML page: tables inline, PNG images embedded as base64 data URIs, a
// little CSS, and a script that marks the page once every image has loaded
// (<html data-images="loaded N/N">) so a headless browser can check it.
#include <string>
#include <vector>

#include "moedil/report/table.h"

namespace moedil::report {

/// RFC 4648 base64 with padding.
std::string base64(const std::vector<unsigned char>& bytes);

class HtmlPage {
 public:
  explicit HtmlPage(std::string title);
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);
  void table(const Table& t);
  /// An embedded PNG with a caption under it.
  void image(const std::vector<unsigned char>& png, const std::string& caption);
  /// A collapsible block: everything added until details_end() is hidden behind `summary`.
  void details_begin(const std::string& summary);
  void details_end();
  int image_count() const { return images_; }
  /// The complete document.
  std::string str() const;

 private:
  std::string title_;
  std::string body_;
  int images_ = 0;
};

}  // namespace moedil::report
