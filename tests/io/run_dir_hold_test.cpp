#include "moedil/io/run_dir_hold.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "moedil/common/error.h"
#include "moedil/io/failure_note.h"
#include "moedil/io/run_lock.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

class RunDirHoldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_run_dir_hold_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(RunDirHoldTest, AClaimedDirectoryIsLockedAndGoneAgainWhenNoRunWasRecorded) {
  const fs::path run = dir_ / "a" / "b" / "run1";
  {
    RunDirHold hold = RunDirHold::claim(run / "");  // "x/" is x
    EXPECT_EQ(hold.id(), "run1");
    EXPECT_EQ(hold.dir(), run);
    EXPECT_TRUE(fs::is_directory(run));
    EXPECT_TRUE(run_is_live(run));
    hold.reserve_failure_note();
    EXPECT_TRUE(fs::exists(failure_note_path(run)));
  }
  // Nothing recorded: the run directory and the parents created for it are removed.
  EXPECT_FALSE(fs::exists(dir_ / "a"));
  EXPECT_TRUE(fs::exists(dir_));
}

TEST_F(RunDirHoldTest, ARecordedRunStays) {
  const fs::path run = dir_ / "res" / "run1";
  {
    RunDirHold hold = RunDirHold::claim(run);
    std::ofstream(run / "run.json") << "{}";
  }
  EXPECT_TRUE(fs::exists(run / "run.json"));
  EXPECT_FALSE(run_is_live(run));
}

TEST_F(RunDirHoldTest, AnExistingDirectoryIsNeverRemovedNorAnythingInIt) {
  const fs::path run = dir_ / "mine";
  fs::create_directories(run);
  std::ofstream(run / "notes.txt") << "user file";
  { RunDirHold hold = RunDirHold::claim(run); }
  EXPECT_TRUE(fs::exists(run / "notes.txt"));
  EXPECT_FALSE(fs::exists(run / ".lock"));
  fs::create_directories(dir_ / "empty");
  { RunDirHold hold = RunDirHold::claim(dir_ / "empty"); }
  EXPECT_TRUE(fs::is_directory(dir_ / "empty"));
}

TEST_F(RunDirHoldTest, ADirectoryHeldByAnotherProcessIsRefused) {
  const fs::path run = dir_ / "run1";
  RunDirHold first = RunDirHold::claim(run);
  try {
    RunDirHold second = RunDirHold::claim(run);
    ADD_FAILURE() << "claimed twice";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("is being run by another live moedil process"),
              std::string::npos);
  }
  // The refused claim removed nothing of the holder's, its lock file least of all.
  EXPECT_TRUE(fs::exists(run / ".lock"));
  EXPECT_TRUE(run_is_live(run));
}

TEST_F(RunDirHoldTest, AFreshRunDirectoryIsUndoneWithItsParentsWhenNothingWasRecorded) {
  fs::path made;
  {
    RunDirHold hold = RunDirHold::fresh(dir_ / "results" / "cfg", "vit", "mnist");
    made = hold.dir();
    EXPECT_EQ(made.parent_path(), dir_ / "results" / "cfg");
    EXPECT_EQ(hold.id().rfind("vit_mnist_", 0), 0u);
    EXPECT_TRUE(run_is_live(made));
  }
  EXPECT_FALSE(fs::exists(dir_ / "results"));
  // A parent that held other runs stays.
  fs::create_directories(dir_ / "results" / "cfg" / "older_run");
  { RunDirHold hold = RunDirHold::fresh(dir_ / "results" / "cfg", "vit", "mnist"); }
  EXPECT_TRUE(fs::exists(dir_ / "results" / "cfg" / "older_run"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "results" / "cfg"),
                          fs::directory_iterator()),
            1);
}

TEST_F(RunDirHoldTest, AFailedFreshStartRemovesTheParentsItMade) {
  EXPECT_THROW(RunDirHold::fresh(dir_ / "results" / "cfg", "bad/name", "mnist"), IoError);
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

}  // namespace
}  // namespace moedil::io
