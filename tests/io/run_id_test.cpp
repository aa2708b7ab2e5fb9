#include "moedil/io/run_id.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

/// 2026-11-23 12:34:56 UTC.
std::chrono::system_clock::time_point fixed_time() {
  // Days from 1970-01-01 to 2026-11-23: 56 years incl. 14 leap days (1972..2024), then
  // Jan..Oct 2026 (304 days) and 22 days.
  const int64_t days = 56 * 365 + 14 + 304 + 22;
  const int64_t secs = days * 86400 + 12 * 3600 + 34 * 60 + 56;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs));
}

TEST(RunIdTest, FormatFixedTime) {
  EXPECT_EQ(format_run_id("vit_moe", "fashion_mnist", fixed_time(), 0x00ab),
            "vit_moe_fashion_mnist_20261123-123456_00ab");
}

TEST(RunIdTest, FormatSuffixIsFourLowercaseHexDigits) {
  EXPECT_EQ(format_run_id("m", "d", fixed_time(), 0), "m_d_20261123-123456_0000");
  EXPECT_EQ(format_run_id("m", "d", fixed_time(), 0xBEEF), "m_d_20261123-123456_beef");
  EXPECT_EQ(format_run_id("m", "d", fixed_time(), 0xffff), "m_d_20261123-123456_ffff");
}

TEST(RunIdTest, FormatIgnoresSubSecondsAndPadsFields) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(0)) +
                 std::chrono::milliseconds(999);
  EXPECT_EQ(format_run_id("vit", "mnist", t, 7), "vit_mnist_19700101-000000_0007");
}

/// True if id is prefix + "YYYYmmdd-HHMMSS_xxxx" (digits, '-', '_', lowercase hex).
bool matches_id_pattern(const std::string& id, const std::string& prefix) {
  const std::string shape = "99999999-999999_ffff";
  if (id.size() != prefix.size() + shape.size() || id.compare(0, prefix.size(), prefix) != 0) {
    return false;
  }
  for (size_t i = 0; i < shape.size(); ++i) {
    const char c = id[prefix.size() + i];
    const bool ok = shape[i] == '9'   ? (c >= '0' && c <= '9')
                    : shape[i] == 'f' ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
                                      : c == shape[i];
    if (!ok) return false;
  }
  return true;
}

class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() /
            ("moedil_run_id_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
};

TEST_F(RunDirTest, CreatesParentAndDirectoryNamedById) {
  const fs::path parent = root_ / "results";
  const RunDir run = create_run_dir(parent, "vit_moe", "fashion_mnist");
  EXPECT_TRUE(fs::is_directory(run.dir));
  EXPECT_EQ(run.dir, parent / run.id);
  EXPECT_TRUE(matches_id_pattern(run.id, "vit_moe_fashion_mnist_")) << run.id;
  EXPECT_TRUE(fs::is_empty(run.dir));
}

TEST_F(RunDirTest, CallsInTheSameSecondGiveDifferentDirs) {
  std::set<fs::path> dirs;
  for (int i = 0; i < 20; ++i) {
    const RunDir run = create_run_dir(root_, "vit_moe", "fashion_mnist");
    EXPECT_TRUE(dirs.insert(run.dir).second) << run.dir;
  }
  EXPECT_EQ(dirs.size(), 20u);
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(root_)) n += e.is_directory() ? 1 : 0;
  EXPECT_EQ(n, 20u);
}

TEST_F(RunDirTest, ParentIsRegularFileThrowsIoError) {
  fs::create_directories(root_);
  { std::ofstream(root_ / "file") << "x"; }
  try {
    create_run_dir(root_ / "file", "vit_moe", "fashion_mnist");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find((root_ / "file").string()), std::string::npos)
        << e.what();
  }
}

TEST_F(RunDirTest, BadNamesThrowIoError) {
  EXPECT_THROW(create_run_dir(root_, "", "fashion_mnist"), IoError);
  EXPECT_THROW(create_run_dir(root_, "vit_moe", ""), IoError);
  EXPECT_THROW(create_run_dir(root_, "a/b", "fashion_mnist"), IoError);
}

TEST(SafeDirName, KeepsOrdinaryNamesAndDefusesPathSyntax) {
  EXPECT_EQ(safe_dir_name("quickstart"), "quickstart");
  EXPECT_EQ(safe_dir_name("my config v2.1"), "my config v2.1");
  EXPECT_EQ(safe_dir_name("r\xc3\xa9seau"), "r\xc3\xa9seau");  // valid UTF-8 stays
  EXPECT_EQ(safe_dir_name(".."), "_..");  // the stem of a file named "...jsonc"
  EXPECT_EQ(safe_dir_name("."), "_.");
  EXPECT_EQ(safe_dir_name("..."), "_...");
  EXPECT_EQ(safe_dir_name(""), "config");
  EXPECT_EQ(safe_dir_name("a/../b"), "a_.._b");
  EXPECT_EQ(safe_dir_name("a\\b"), "a_b");
  EXPECT_EQ(safe_dir_name("line\nbreak\x1b[31m\x7f"), "line_break_[31m_");
  EXPECT_EQ(safe_dir_name("bad\xff\xc3("), "bad__(");  // not UTF-8
  EXPECT_EQ(safe_dir_name("\xed\xa0\x80"), "___");    // a UTF-16 surrogate is not UTF-8
  EXPECT_EQ(safe_dir_name(".hidden"), ".hidden");
  EXPECT_EQ(safe_dir_name(std::string(300, 'x')).size(), 200u);
  // Cut at a character boundary: 100 two-byte characters, then one more does not fit.
  std::string accents;
  for (int i = 0; i < 101; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(safe_dir_name(accents).size(), 200u);
}

TEST(ConfigResultsDir, AlwaysInsideTheResultsDirectory) {
  EXPECT_EQ(config_results_dir("results", "quickstart"), fs::path("results/quickstart"));
  for (const std::string name : {"..", ".", "", "../../etc", "/abs", "a/..", "\x01"}) {
    const fs::path dir = config_results_dir("/tmp/res", name);
    EXPECT_EQ(dir.parent_path(), fs::path("/tmp/res")) << name;
    EXPECT_EQ(dir.lexically_normal().parent_path(), fs::path("/tmp/res")) << name;
  }
  EXPECT_EQ(config_results_dir("", ".."), fs::path("_.."));
}

}  // namespace
}  // namespace moedil::io
