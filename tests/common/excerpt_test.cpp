#include "moedil/common/excerpt.h"

#include <gtest/gtest.h>

#include <string>

namespace moedil {
namespace {

TEST(Excerpt, ShortPrintableTextIsKept) {
  EXPECT_EQ(excerpt("model.depth"), "model.depth");
  EXPECT_EQ(excerpt("r\xc3\xa9sultats"), "r\xc3\xa9sultats");  // UTF-8 stays as it is
  EXPECT_EQ(excerpt(""), "");
}

TEST(Excerpt, LongTextIsCutWithItsLength) {
  EXPECT_EQ(excerpt(std::string(10'000'000, 'k'), 5), "kkkkk... (10000000 bytes)");
  EXPECT_EQ(excerpt("abcdef", 6), "abcdef");
  EXPECT_EQ(excerpt("abcdefg", 6), "abcdef... (7 bytes)");
  // A multi-byte character is not split: \xc3\xa9 does not fit after "ab" in 3 bytes.
  EXPECT_EQ(excerpt("ab\xc3\xa9", 3), "ab... (4 bytes)");
}

TEST(Excerpt, BytesThatAreNotTextAreEscaped) {
  EXPECT_EQ(excerpt("a\xff" "b"), "a\\xFFb");
  EXPECT_EQ(excerpt("line\nnext\x1b[31m"), "line\\x0Anext\\x1B[31m");
  EXPECT_EQ(excerpt("\xc3"), "\\xC3");              // truncated sequence
  EXPECT_EQ(excerpt("\xc0\xaf"), "\\xC0\\xAF");     // overlong '/'
  EXPECT_EQ(excerpt("\xed\xa0\x80"), "\\xED\\xA0\\x80");  // surrogate
}

TEST(Excerpt, InvalidUtf8OffsetFindsTheFirstBadByte) {
  EXPECT_EQ(invalid_utf8_offset("plain"), std::string_view::npos);
  EXPECT_EQ(invalid_utf8_offset("\xe2\x82\xac and \xf0\x9f\x98\x80"), std::string_view::npos);
  EXPECT_EQ(invalid_utf8_offset("ok\xff"), 2u);
  EXPECT_EQ(invalid_utf8_offset("\xe2\x82"), 0u);          // cut short
  EXPECT_EQ(invalid_utf8_offset("a\xf4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(invalid_utf8_offset("a\xe0\x80\x80"), 1u);      // overlong
}

}  // namespace
}  // namespace moedil
