#include "moedil/common/printable.h"

#include <gtest/gtest.h>

namespace moedil {
namespace {

TEST(Printable, PlainTextAndUtf8StayAsTheyAre) {
  EXPECT_EQ(printable("quickstart[model.moe_top_k=2] acc 0.5"), "quickstart[model.moe_top_k=2] acc 0.5");
  EXPECT_EQ(printable("Gr\xc3\xbc\xc3\x9f\x65 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82"),
            "Gr\xc3\xbc\xc3\x9f\x65 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82");
  EXPECT_EQ(printable(""), "");
}

TEST(Printable, EveryControlCharacterBecomesAVisibleEscape) {
  // ESC sequences (colour, clear screen, window title), C0, DEL.
  EXPECT_EQ(printable("a\x1b[2J\x1b]0;pwned\x07z"), "a\\x1b[2J\\x1b]0;pwned\\x07z");
  EXPECT_EQ(printable("x\ny\tz\rw"), "x\\ny\\tz\\rw");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("\x08\x7f\x1f"), "\\x08\\x7f\\x1f");
  // C1 (U+009B is CSI, U+0085 NEL) as UTF-8; bidi overrides; line separators.
  EXPECT_EQ(printable("a\xc2\x9b" "31mb\xc2\x85"), "a\\u009b31mb\\u0085");
  EXPECT_EQ(printable("\xe2\x80\xae" "txt.exe\xe2\x81\xa9\xe2\x80\xa8"), "\\u202etxt.exe\\u2069\\u2028");
  // Bytes that are not UTF-8 (a lone 0x9b is CSI on an 8-bit terminal), truncated and
  // overlong sequences.
  EXPECT_EQ(printable("a\x9b" "1m"), "a\\x9b1m");
  EXPECT_EQ(printable("\xe6\x97"), "\\xe6\\x97");
  EXPECT_EQ(printable("\xc0\x9b"), "\\xc0\\x9b");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  // Whatever goes in, nothing below 0x20 or 0x7f..0x9f comes out.
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (char ch : printable(all)) {
    const auto c = static_cast<unsigned char>(ch);
    EXPECT_TRUE(c >= 0x20 && c != 0x7f && !(c >= 0x80 && c <= 0x9f)) << int(c);
  }
}

}  // namespace
}  // namespace moedil
