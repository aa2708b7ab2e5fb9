#include "moedil/io/free_space.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

TEST(FreeSpace, TempDirectoryHasSomeAndMissingChildrenUseTheirAncestor) {
  const auto tmp = std::filesystem::temp_directory_path();
  const int64_t here = free_bytes(tmp);
  EXPECT_GT(here, 0);
  // A path that does not exist yet is measured on its nearest existing ancestor.
  const int64_t below = free_bytes(tmp / "moedil_not_there" / "a" / "b");
  EXPECT_GT(below, 0);
  EXPECT_NO_THROW(require_free_space(tmp / "moedil_not_there", 1, "a tiny run"));
}

TEST(FreeSpace, TooLittleSpaceIsAnIoErrorNamingPathAndSizes) {
  const auto tmp = std::filesystem::temp_directory_path();
  try {
    require_free_space(tmp, int64_t{1} << 62, "checkpoints of this run");
    FAIL() << "4 EiB reported as available";
  } catch (const IoError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(tmp.string()), std::string::npos) << what;
    EXPECT_NE(what.find("checkpoints of this run needs about"), std::string::npos) << what;
    EXPECT_NE(what.find("MiB free"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace moedil::io
