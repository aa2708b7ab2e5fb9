#include "moedil/common/stop.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil {
namespace {

TEST(Stop, NothingHappensUntilAStopIsRequested) {
  stop_flag().store(0);
  EXPECT_NO_THROW(throw_if_stopped("loading"));
}

TEST(Stop, AStopBecomesInterruptedErrorWithItsSignalAndWhatWasCutShort) {
  stop_flag().store(15);
  try {
    throw_if_stopped("loading data_batch_1.bin");
    ADD_FAILURE() << "no InterruptedError";
  } catch (const InterruptedError& e) {
    EXPECT_EQ(e.signal(), 15);
    EXPECT_STREQ(e.what(), "interrupted while loading data_batch_1.bin (SIGTERM)");
  }
  stop_flag().store(2);
  try {
    throw_if_stopped("evaluating");
    ADD_FAILURE() << "no InterruptedError";
  } catch (const InterruptedError& e) {
    EXPECT_EQ(e.signal(), 2);
    EXPECT_STREQ(e.what(), "interrupted while evaluating");
  }
  stop_flag().store(0);
}

}  // namespace
}  // namespace moedil
