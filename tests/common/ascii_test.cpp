#include "moedil/common/ascii.h"

#include <gtest/gtest.h>

namespace moedil {
namespace {

TEST(Ascii, LowerCasesAsciiLettersOnly) {
  EXPECT_EQ(ascii_lower("Random"), "random");
  EXPECT_EQ(ascii_lower("ResNet18-CIFAR.JPG"), "resnet18-cifar.jpg");
  EXPECT_EQ(ascii_lower(""), "");
  // UTF-8 bytes (here "Ä", C3 84) pass unchanged whatever the C locale says.
  EXPECT_EQ(ascii_lower("\xC3\x84Z"), "\xC3\x84z");
}

}  // namespace
}  // namespace moedil
