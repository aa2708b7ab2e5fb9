#include "moedil/io/failure_note.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "moedil/common/error.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/run_record.h"
#include "moedil/common/safe_file.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

class FailureNoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moedil_failure_note_test_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_run_json(const std::string& status) {
    RunRecord r;
    r.run.id = "r1";
    r.run.config_name = "c";
    r.run.status = status;
    r.run.started = "2026-01-01T00:00:00Z";
    write_file_atomic(dir_ / "run.json", to_json(r).dump(1));
  }

  fs::path dir_;
};

TEST_F(FailureNoteTest, AReservedNoteIsBlankAtItsFullSize) {
  FailureNote note = FailureNote::reserve(dir_);
  EXPECT_EQ(fs::file_size(failure_note_path(dir_)), kFailureNoteBytes);
  EXPECT_FALSE(read_failure_note(dir_).has_value());
  EXPECT_FALSE(read_failure_note(dir_ / "elsewhere").has_value());
}

TEST_F(FailureNoteTest, ARecordedOutcomeReadsBackInTheSameBytes) {
  FailureNote note = FailureNote::reserve(dir_);
  ASSERT_TRUE(note.record({"failed", "checkpoint.pt: write failed: No space left on device",
                           "2026-01-02T03:04:05Z"}));
  EXPECT_EQ(fs::file_size(failure_note_path(dir_)), kFailureNoteBytes);  // written in place
  const auto noted = read_failure_note(dir_);
  ASSERT_TRUE(noted.has_value());
  EXPECT_EQ(noted->status, "failed");
  EXPECT_EQ(noted->error, "checkpoint.pt: write failed: No space left on device");
  EXPECT_EQ(noted->finished, "2026-01-02T03:04:05Z");
  // A new attempt reserves it blank again, in place (the same file and blocks: no new space).
  struct stat before {};
  ASSERT_EQ(::stat(failure_note_path(dir_).c_str(), &before), 0);
  FailureNote again = FailureNote::reserve(dir_);
  EXPECT_FALSE(read_failure_note(dir_).has_value());
  struct stat after {};
  ASSERT_EQ(::stat(failure_note_path(dir_).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(after.st_size, static_cast<off_t>(kFailureNoteBytes));
}

TEST_F(FailureNoteTest, ALongErrorIsCutToFitAndSaysSo) {
  FailureNote note = FailureNote::reserve(dir_);
  const std::string quote(3000, '"');  // each escapes to two bytes in JSON
  ASSERT_TRUE(note.record({"failed", "start " + quote + " end", "t"}));
  EXPECT_EQ(fs::file_size(failure_note_path(dir_)), kFailureNoteBytes);
  const auto noted = read_failure_note(dir_);
  ASSERT_TRUE(noted.has_value());
  EXPECT_EQ(noted->error.rfind("start ", 0), 0u);
  EXPECT_EQ(noted->error.substr(noted->error.size() - 3), "...");
  EXPECT_LT(noted->error.size(), 2100u);
}

TEST_F(FailureNoteTest, ReadersTakeARunningRecordWithANotedFailureAsThatFailure) {
  write_run_json("running");
  FailureNote note = FailureNote::reserve(dir_);
  EXPECT_EQ(read_run_record((dir_ / "run.json").string()).run.status, "running");
  ASSERT_TRUE(note.record({"failed", "No space left on device", "2026-01-02T03:04:05Z"}));
  const RunRecord r = read_run_record((dir_ / "run.json").string());
  EXPECT_EQ(r.run.status, "failed");
  EXPECT_EQ(r.run.error, "No space left on device");
  EXPECT_EQ(r.run.finished, "2026-01-02T03:04:05Z");
  // A run.json that was rewritten after the note (a later attempt) is what counts.
  write_run_json("completed");
  EXPECT_EQ(read_run_record((dir_ / "run.json").string()).run.status, "completed");
}

TEST_F(FailureNoteTest, AGarbledNoteIsNoNote) {
  std::ofstream(failure_note_path(dir_)) << "{\"status\": \"fail";
  EXPECT_FALSE(read_failure_note(dir_).has_value());
}

TEST_F(FailureNoteTest, ALinkPlantedAtTheNameIsNotFollowed) {
  std::ofstream(dir_ / "victim") << "precious";
  fs::create_symlink(dir_ / "victim", failure_note_path(dir_));
  EXPECT_THROW(FailureNote::reserve(dir_), IoError);
  EXPECT_EQ(read_input_file(dir_ / "victim"), "precious");
}

}  // namespace
}  // namespace moedil::io
