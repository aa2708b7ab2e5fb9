#include "moedil/io/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("moedil_atomic_file_test_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  /// Names of all entries of `d`, sorted.
  static std::vector<std::string> entries(const fs::path& d) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path dir_;
};

TEST_F(AtomicFileTest, RoundTrip) {
  const fs::path p = dir_ / "result.json";
  const std::string content = "{\"acc\": 0.5}\n";
  write_file_atomic(p, content);
  EXPECT_EQ(slurp(p), content);
}

TEST_F(AtomicFileTest, RoundTripBinaryAndEmpty) {
  std::string binary(1 << 20, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 131 % 256);
  write_file_atomic(dir_ / "bin", binary);
  EXPECT_EQ(slurp(dir_ / "bin"), binary);
  write_file_atomic(dir_ / "empty", "");
  EXPECT_TRUE(fs::exists(dir_ / "empty"));
  EXPECT_EQ(fs::file_size(dir_ / "empty"), 0u);
}

TEST_F(AtomicFileTest, OverwriteReplacesContent) {
  const fs::path p = dir_ / "log.txt";
  write_file_atomic(p, "a much longer first version of the file\n");
  write_file_atomic(p, "short\n");
  EXPECT_EQ(slurp(p), "short\n");
}

TEST_F(AtomicFileTest, NoTempFilesLeft) {
  for (int i = 0; i < 5; ++i) write_file_atomic(dir_ / "a.txt", "v" + std::to_string(i));
  write_file_atomic(dir_ / "b.txt", "b");
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"a.txt", "b.txt"}));
}

TEST_F(AtomicFileTest, CreatesParentDirectories) {
  const fs::path p = dir_ / "x" / "y" / "z" / "file.txt";
  write_file_atomic(p, "nested");
  EXPECT_EQ(slurp(p), "nested");
}

TEST_F(AtomicFileTest, ParentIsRegularFileThrowsIoError) {
  write_file_atomic(dir_ / "plain", "i am a file");
  const fs::path p = dir_ / "plain" / "child.txt";
  try {
    write_file_atomic(p, "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(dir_ / "plain"), "i am a file");
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"plain"}));
}

TEST_F(AtomicFileTest, TargetIsDirectoryThrowsAndRemovesTemp) {
  fs::create_directories(dir_ / "sub");
  const fs::path p = dir_ / "sub";
  try {
    write_file_atomic(p, "x");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("rename"), std::string::npos) << msg;
  }
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"sub"}));
}

TEST_F(AtomicFileTest, PathWithoutFileNameThrows) {
  EXPECT_THROW(write_file_atomic(dir_ / "", "x"), IoError);
  EXPECT_THROW(write_file_atomic(fs::path(), "x"), IoError);
}

TEST_F(AtomicFileTest, WriterAppearsOnlyOnCommitWithPatchedBytes) {
  const fs::path p = dir_ / "cache.bin";
  write_file_atomic(p, "old");
  {
    AtomicFileWriter w(p);
    w.append("0000");
    w.append("body");
    EXPECT_EQ(w.size(), 8u);
    w.write_at(0, "HEAD");
    EXPECT_THROW(w.write_at(6, "xyz"), IoError);  // beyond what was written
    EXPECT_EQ(slurp(p), "old");                   // untouched until commit
    EXPECT_EQ(entries(dir_).size(), 2u);          // the file and the writer's temp file
    w.commit();
    EXPECT_THROW(w.append("more"), IoError);
  }
  EXPECT_EQ(slurp(p), "HEADbody");
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"cache.bin"});
}

TEST_F(AtomicFileTest, WriterDestroyedWithoutCommitLeavesNothing) {
  const fs::path p = dir_ / "sub" / "cache.bin";
  {
    AtomicFileWriter w(p);
    w.append(std::string(1 << 16, 'x'));
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(entries(dir_ / "sub").empty());
}

TEST(AtomicTempName, RecognisesExactlyTheWritersTempNames) {
  EXPECT_TRUE(is_atomic_temp_name(".checkpoint.pt.tmp-1234-0a1b2c3d"));
  EXPECT_TRUE(is_atomic_temp_name(".run.json.tmp-7-ffffffff"));
  EXPECT_FALSE(is_atomic_temp_name("checkpoint.pt"));
  EXPECT_FALSE(is_atomic_temp_name(".checkpoint.pt.tmp-1234-0a1b2c3"));    // 7 hex digits
  EXPECT_FALSE(is_atomic_temp_name(".checkpoint.pt.tmp-1234-0a1b2c3dd"));  // 9
  EXPECT_FALSE(is_atomic_temp_name(".checkpoint.pt.tmp--0a1b2c3d"));       // no pid
  EXPECT_FALSE(is_atomic_temp_name(".checkpoint.pt.tmp-12a4-0a1b2c3d"));
  EXPECT_FALSE(is_atomic_temp_name(".checkpoint.pt.tmp-1234-0A1B2C3D"));   // upper case
  EXPECT_FALSE(is_atomic_temp_name("notes.tmp-1234-0a1b2c3d"));            // no leading dot
}

// A writer killed between creating and renaming its temp file leaves it behind; only those
// files go, nothing else of the directory.
TEST_F(AtomicFileTest, RemoveStaleTempFilesRemovesOnlyLeftoverTempFiles) {
  write_file_atomic(dir_ / "checkpoint.pt", "new");
  std::ofstream(dir_ / ".checkpoint.pt.tmp-99999-deadbeef") << std::string(4096, 'x');
  std::ofstream(dir_ / ".run.json.tmp-12-00000000") << "{";
  std::ofstream(dir_ / "notes.txt") << "keep";
  std::ofstream(dir_ / ".hidden") << "keep";
  fs::create_directories(dir_ / "sub");
  std::ofstream(dir_ / "sub" / ".x.tmp-1-00000000") << "keep: not this directory";
  const std::vector<fs::path> removed = remove_stale_temp_files(dir_);
  EXPECT_EQ(removed, (std::vector<fs::path>{dir_ / ".checkpoint.pt.tmp-99999-deadbeef",
                                             dir_ / ".run.json.tmp-12-00000000"}));
  std::vector<std::string> left;
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    left.push_back(fs::relative(entry.path(), dir_).string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{".hidden", "checkpoint.pt", "notes.txt", "sub",
                                            "sub/.x.tmp-1-00000000"}));
  EXPECT_EQ(slurp(dir_ / "checkpoint.pt"), "new");
  EXPECT_TRUE(remove_stale_temp_files(dir_ / "missing").empty());
}

}  // namespace
}  // namespace moedil::io
