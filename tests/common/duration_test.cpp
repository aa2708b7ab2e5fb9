#include "moedil/common/duration.h"

#include <gtest/gtest.h>

#include <limits>

namespace moedil {
namespace {

TEST(FormatDuration, HoursMinutesSeconds) {
  EXPECT_EQ(format_duration(5.4), "5s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(-1), "-");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::quiet_NaN()), "-");
}

}  // namespace
}  // namespace moedil
