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

TEST(ReportTable, CsvNeutralisesFormulasButKeepsNumbers) {
  EXPECT_EQ(csv_text("=1+2"), "'=1+2");
  EXPECT_EQ(csv_text("+cmd"), "'+cmd");
  EXPECT_EQ(csv_text("-2+3"), "'-2+3");
  EXPECT_EQ(csv_text("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_text("\t=x"), "\\t=x");  // control characters are escaped first
  EXPECT_EQ(csv_text("-0.25"), "-0.25");
  EXPECT_EQ(csv_text("+3"), "+3");
  EXPECT_EQ(csv_text("-1e-05"), "-1e-05");
  EXPECT_EQ(csv_text("plain"), "plain");
  EXPECT_EQ(csv_text(""), "");
  const Table t{"", {"=head", "n"},
                {{"=HYPERLINK(\"http://x\",\"y\")", Cell::num(-0.5)}, {"-1", Cell::integer(-3)}}};
  EXPECT_EQ(to_csv(t),
            "'=head,n\n"
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-0.5\n"
            "-1,-3\n");
}

TEST(ReportTable, MarkdownEscapesEverySignificantCharacter) {
  EXPECT_EQ(md_escape("a_b*c`d[e](f)<g>|h#i!j~k&l\\m{n}$o"),
            "a\\_b\\*c\\`d\\[e\\]\\(f\\)\\<g\\>\\|h\\#i\\!j\\~k\\&l\\\\m\\{n\\}\\$o");
  EXPECT_EQ(md_escape("plain-name.v2 0.5"), "plain-name.v2 0.5");
  EXPECT_EQ(md_escape("x\ny\x1b[1m"), "x\\\\ny\\\\x1b\\[1m");
  const std::string md = to_markdown(Table{"<t>", {"c_1"}, {{Cell("<b>x</b>")}, {Cell::num(-0.5)}}});
  EXPECT_NE(md.find("### \\<t\\>"), std::string::npos) << md;
  EXPECT_NE(md.find("| c\\_1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| \\<b\\>x\\</b\\> |"), std::string::npos) << md;
  EXPECT_NE(md.find("| -0.5000 |"), std::string::npos) << md;
}

TEST(ReportTable, TextShowsControlCharactersAsEscapes) {
  const std::string t =
      to_text(Table{"T\x1b[2J", {"c\x07"}, {{Cell("a\x1b]0;x\x07" "b")}, {Cell("\xc2\x9b" "1m")}}});
  EXPECT_EQ(t.find('\x1b'), std::string::npos) << t;
  EXPECT_EQ(t.find('\x07'), std::string::npos) << t;
  EXPECT_NE(t.find("T\\x1b[2J"), std::string::npos) << t;
  EXPECT_NE(t.find("a\\x1b]0;x\\x07b"), std::string::npos) << t;
  EXPECT_NE(t.find("\\u009b1m"), std::string::npos) << t;
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
