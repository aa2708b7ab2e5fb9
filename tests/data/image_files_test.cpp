#include "moedil/data/image_files.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/data/core50.h"
#include "moedil/data/image_folder.h"
#include "moedil/data/office_home.h"
#include "image_fixtures.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;
using namespace image_fixtures;

// Listing image files and checking roots, through the loaders that use them.
class ImageFilesTest : public ImageDataTest {};

TEST_F(ImageFilesTest, AFifoOrBrokenLinkNamedLikeAnImageIsRefusedNamingIt) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0));
  ASSERT_EQ(::mkfifo((dir_ / "dog" / "b.png").c_str(), 0644), 0);
  ImageLoadOptions o = options(0, 2);
  o.skip_bad = true;  // not a bad image: a dataset folder that cannot be read as one
  std::string msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, (dir_ / "dog" / "b.png").string() + ": is a FIFO")) << msg;
  fs::remove(dir_ / "dog" / "b.png");
  fs::create_symlink(dir_ / "nowhere.png", dir_ / "dog" / "b.png");
  msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, (dir_ / "dog" / "b.png").string() + ": is a dangling symbolic link"))
      << msg;
}

TEST_F(ImageFilesTest, MissingRootShowsLayout) {
  const fs::path absent = dir_ / "absent";
  std::string msg = message_of([&] { load_image_folder("x", absent, options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "does not exist")) << msg;
  EXPECT_TRUE(contains(msg, "<root>/<domain>/<class>/<image>")) << msg;
  msg = message_of([&] { load_officehome(absent, options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}")) << msg;
  msg = message_of([&] { load_core50(absent, "object", options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "core50_128x128/s1..s11/o1..o50")) << msg;
  // A root that is a file, or an empty folder, also shows the layout.
  write_bytes(dir_ / "file", "x");
  msg = message_of([&] { load_image_folder("x", dir_ / "file", options()); });
  EXPECT_TRUE(contains(msg, "not a folder")) << msg;
  fs::create_directories(dir_ / "empty");
  msg = message_of([&] { load_image_folder("x", dir_ / "empty", options()); });
  EXPECT_TRUE(contains(msg, "<root>/<class>/<image>")) << msg;
}

}  // namespace
}  // namespace moedil::data
