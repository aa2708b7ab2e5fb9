// The predecessor's prototype-initialisation images: the first image of each class folder of
// each domain folder.
#include "moedil/data/prototype_images.h"

#include "image_fixtures.h"

namespace moedil::data {
namespace {

using namespace image_fixtures;

class PrototypeImagesTest : public ImageDataTest {};

TEST_F(PrototypeImagesTest, FirstImageByNameOfEachClassOfEachDomainInFolderOrder) {
  // Written out of order: folders and files are taken sorted by name.
  for (int domain : {1, 0}) {
    const fs::path d = dir_ / (domain == 0 ? "Art" : "Clipart");
    write_image(d / "mug" / "b.png", colour(domain, 1, 1));
    write_image(d / "mug" / "a.png", colour(domain, 1, 0));
    write_image(d / "bike" / "z.png", colour(domain, 0, 2));
  }
  write_image(dir_ / "Clipart" / "bike" / "c.png", colour(1, 0, 0));
  const Dataset d = first_image_per_class(dir_, 0, 1);
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"Art", "Clipart"}));
  ASSERT_EQ(d.images.size(0), 4);
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 0, 1}));
  expect_colour(d, 0, colour(0, 0, 2));  // Art/bike/z.png, its only image
  expect_colour(d, 1, colour(0, 1, 0));  // Art/mug/a.png
  expect_colour(d, 2, colour(1, 0, 0));  // Clipart/bike/c.png before z.png
  expect_colour(d, 3, colour(1, 1, 0));  // Clipart/mug/a.png
  // Resized like the datasets.
  EXPECT_EQ(first_image_per_class(dir_, 3, 1).images.sizes(), (at::IntArrayRef{4, 3, 3, 3}));
}

TEST_F(PrototypeImagesTest, MissingOrEmptyFoldersAreNamed) {
  EXPECT_NE(message_of([&] { first_image_per_class(dir_ / "absent", 0, 1); }).find("absent"),
            std::string::npos);
  EXPECT_NE(message_of([&] { first_image_per_class(dir_, 0, 1); }).find("has no domain folder"),
            std::string::npos);
  fs::create_directories(dir_ / "Art" / "mug");
  EXPECT_NE(message_of([&] { first_image_per_class(dir_, 0, 1); }).find("has no image"),
            std::string::npos);
  fs::create_directories(dir_ / "Clipart");
  write_image(dir_ / "Art" / "mug" / "a.png", colour(0, 0, 0));
  EXPECT_NE(message_of([&] { first_image_per_class(dir_, 0, 1); }).find("has no class folder"),
            std::string::npos);
}

}  // namespace
}  // namespace moedil::data
