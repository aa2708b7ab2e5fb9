#include "moedil/report/table.h"

#include <gtest/gtest.h>

namespace moedil::report {
namespace {

Table sample() {
  return {"Title", {"name", "value", "n"},
          {{"plain", Cell::num(0.123456789), Cell::integer(3)},
           {"with, comma \"quoted\"", Cell::num(std::nullopt), Cell::integer(1)},
           {"a|b", Cell::num(-0.5), Cell::integer(10)}}};
}

TEST(ReportTable, CellFormats) {
  EXPECT_EQ(Cell::num(0.123456789).display(), "0.1235");
  EXPECT_EQ(Cell::num(0.123456789).csv(), "0.123456789");
  EXPECT_EQ(Cell::num(std::nullopt).display(), "n/a");
  EXPECT_EQ(Cell::num(std::nullopt).csv(), "n/a");
  EXPECT_EQ(Cell::integer(42).display(), "42");
  EXPECT_EQ(Cell("text").display(), "text");
}

TEST(ReportTable, CsvQuotesAndFullPrecision) {
  EXPECT_EQ(to_csv(sample()),
            "name,value,n\n"
            "plain,0.123456789,3\n"
            "\"with, comma \"\"quoted\"\"\",n/a,1\n"
            "a|b,-0.5,10\n");
}

TEST(ReportTable, MarkdownEscapesPipesAndAlignsNumbersRight) {
  const std::string md = to_markdown(sample());
  EXPECT_NE(md.find("### Title\n\n| name | value | n |\n| --- | ---: | ---: |\n"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| a\\|b | -0.5000 | 10 |"), std::string::npos) << md;
}

TEST(ReportTable, TextAlignsColumns) {
  const std::string t = to_text(sample());
  EXPECT_EQ(t.substr(0, 6), "Title\n");
  EXPECT_EQ(t,
            "Title\n"
            "name                    value   n\n"
            "---------------------------------\n"
            "plain                  0.1235   3\n"
            "with, comma \"quoted\"      n/a   1\n"
            "a|b                   -0.5000  10\n");
}

TEST(ReportTable, HtmlEscapes) {
  EXPECT_EQ(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  const std::string h = to_html(Table{"<t>", {"c"}, {{Cell("<b>")}, {Cell::num(1.0)}}});
  EXPECT_NE(h.find("<caption>&lt;t&gt;</caption>"), std::string::npos);
  EXPECT_NE(h.find("<td>&lt;b&gt;</td>"), std::string::npos);
  EXPECT_NE(h.find("<td class=\"num\">1.0000</td>"), std::string::npos);
}

}  // namespace
}  // namespace moedil::report
