#include "moedil/io/logging.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace moedil::io {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Logging, FileSinkHasEveryLineWithoutAnExplicitFlush) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("moedil_logging_test_" + std::to_string(std::random_device{}()));
  const auto path = dir / "nested" / "run.log";
  const auto sink = attach_log_file(path);
  logger()->info("[train] first line {}", 1);
  // Read while the sink is still attached: what `tail -f` sees during a run.
  EXPECT_NE(read_all(path).find("[train] first line 1"), std::string::npos);
  logger()->info("[train] second line");
  EXPECT_NE(read_all(path).find("[train] second line"), std::string::npos);
  detach_log_file(sink);
  logger()->info("after detach");
  EXPECT_EQ(read_all(path).find("after detach"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moedil::io
