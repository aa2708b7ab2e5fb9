#include "moedil/data/image_folder.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "image_fixtures.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;
using namespace image_fixtures;

class ImageFolderTest : public ImageDataTest {};

// ---- generic layouts -------------------------------------------------------------------

TEST_F(ImageFolderTest, DomainClassLayout) {
  write_domain_layout(dir_);
  // Other extensions (upper case too) count; other files are ignored.
  write_image(dir_ / "dA" / "cat" / "img2.JPG", colour(0, 0, 2));
  write_bytes(dir_ / "dA" / "cat" / "notes.txt", "not an image");
  write_bytes(dir_ / "dA" / "cat" / ".hidden.png", "not an image either");
  const Dataset d = load_image_folder("folder", dir_, options());
  EXPECT_EQ(d.name, "folder");
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{9, 3, kH, kW}));
  EXPECT_EQ(d.images.scalar_type(), at::kByte);
  EXPECT_TRUE(d.images.is_contiguous());
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"dA", "dB"}));
  ASSERT_TRUE(d.has_domains());
  EXPECT_FALSE(d.has_test_split());
  // Sorted: domain, class, file name.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 0, 1));
  expect_colour(d, 2, colour(0, 0, 2), 4);  // JPEG
  expect_colour(d, 3, colour(0, 1, 0));
  expect_colour(d, 4, colour(0, 1, 1));
  expect_colour(d, 5, colour(1, 0, 0));
  expect_colour(d, 6, colour(1, 0, 1));
  expect_colour(d, 7, colour(1, 1, 0));
  expect_colour(d, 8, colour(1, 1, 1));
}

TEST_F(ImageFolderTest, ClassOnlyLayout) {
  write_image(dir_ / "zebra" / "a.png", colour(0, 2, 0));
  write_image(dir_ / "ant" / "b.bmp", colour(0, 0, 1));
  write_image(dir_ / "ant" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "mole" / "x.jpeg", colour(0, 1, 0));
  const Dataset d = load_image_folder("plain", dir_, options());
  EXPECT_FALSE(d.has_domains());
  EXPECT_TRUE(d.domain_names.empty());
  EXPECT_FALSE(d.has_test_split());
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"ant", "mole", "zebra"}));
  EXPECT_EQ(d.num_classes, 3);
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 1, 2}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 0, 1));  // BMP is lossless
  expect_colour(d, 2, colour(0, 1, 0), 4);
  expect_colour(d, 3, colour(0, 2, 0));
}

TEST_F(ImageFolderTest, TrainValAtRootSetsIsTest) {
  write_image(dir_ / "train" / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "train" / "dog" / "a.png", colour(0, 1, 0));
  write_image(dir_ / "val" / "cat" / "a.png", colour(0, 0, 1));
  write_image(dir_ / "val" / "dog" / "a.png", colour(0, 1, 1));
  write_image(dir_ / "val" / "dog" / "b.png", colour(0, 1, 2));
  const Dataset d = load_image_folder("split", dir_, options());
  EXPECT_FALSE(d.has_domains());
  ASSERT_TRUE(d.has_test_split());
  EXPECT_EQ(d.is_test.scalar_type(), at::kBool);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(d.size(), 5);
  EXPECT_EQ(to_vector(d.is_test), (std::vector<int64_t>{0, 0, 1, 1, 1}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 0, 1, 1}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 1, 0));
  expect_colour(d, 2, colour(0, 0, 1));
  expect_colour(d, 4, colour(0, 1, 2));
}

TEST_F(ImageFolderTest, TrainTestPerDomainSetsIsTest) {
  for (int dom = 0; dom < 2; ++dom) {
    const fs::path droot = dir_ / (dom == 0 ? "d0" : "d1");
    write_image(droot / "train" / "x" / "a.png", colour(dom, 0, 0));
    write_image(droot / "train" / "y" / "a.png", colour(dom, 1, 0));
    write_image(droot / "test" / "x" / "a.png", colour(dom, 0, 1));
    write_image(droot / "test" / "y" / "a.png", colour(dom, 1, 1));
  }
  const Dataset d = load_image_folder("split", dir_, options());
  ASSERT_TRUE(d.has_domains());
  ASSERT_TRUE(d.has_test_split());
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"d0", "d1"}));
  // Not "train"/"test" classes: the split folders are recognised under each domain.
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(to_vector(d.is_test), (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1}));
  expect_colour(d, 3, colour(0, 1, 1));
  expect_colour(d, 6, colour(1, 0, 1));
}

TEST_F(ImageFolderTest, InconsistentClassFoldersListMissingPerDomain) {
  for (const char* c : {"cat", "dog", "fox"}) write_image(dir_ / "dA" / c / "a.png", {1, 2, 3});
  write_image(dir_ / "dB" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "dC" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "dC" / "dog" / "a.png", {1, 2, 3});
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, dir_.string())) << msg;
  EXPECT_TRUE(contains(msg, "domain 'dB' lacks 'dog', 'fox'")) << msg;
  EXPECT_TRUE(contains(msg, "domain 'dC' lacks 'fox'")) << msg;
  EXPECT_FALSE(contains(msg, "domain 'dA'")) << msg;
}

TEST_F(ImageFolderTest, MixedDomainAndClassFoldersIsError) {
  write_image(dir_ / "dA" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "stray" / "a.png", {1, 2, 3});
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, (dir_ / "stray").string())) << msg;
  EXPECT_TRUE(contains(msg, "no class sub-folders")) << msg;
}

}  // namespace
}  // namespace moedil::data
