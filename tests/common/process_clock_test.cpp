#include "moedil/common/process_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace moedil {
namespace {

TEST(ProcessClock, StartTicksAreField22CountedFromTheLastParenthesis) {
  // A command name with spaces and parentheses, as a process may name itself.
  const char* line =
      "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 "
      "200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(start_ticks_from_stat(line), 987654ull);
  EXPECT_EQ(start_ticks_from_stat("1 (x) S 1 2 3"), std::nullopt);      // too few fields
  EXPECT_EQ(start_ticks_from_stat("no parenthesis at all"), std::nullopt);
  EXPECT_EQ(start_ticks_from_stat(
                "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12x 1 2"),
            std::nullopt);  // not a number
}

TEST(ProcessClock, SecondsSinceStartGrowWithTheWallClock) {
  const std::optional<double> first = seconds_since_process_start();
  if (!first) GTEST_SKIP() << "no /proc here";
  EXPECT_GE(*first, 0.0);
  EXPECT_LT(*first, 3600.0) << "this test process started within the hour";
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  const std::optional<double> second = seconds_since_process_start();
  ASSERT_TRUE(second.has_value());
  // 120 ms later, at a resolution of one clock tick (10 ms) for each reading.
  EXPECT_GE(*second - *first, 0.09);
}

}  // namespace
}  // namespace moedil
