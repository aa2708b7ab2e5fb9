#include "moedil/data/office_home.h"

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

class OfficeHomeTest : public ImageDataTest {};

/// OfficeHome fixture under `base` (the folder holding the domain folders): domains written in
/// reverse order, classes Bike and Alarm_Clock.
void write_officehome(const fs::path& base) {
  const std::vector<std::string> domains{"Real World", "Product", "Clipart", "Art"};
  for (std::size_t k = 0; k < domains.size(); ++k) {
    const int dom = static_cast<int>(domains.size() - 1 - k);  // Art = 0 ... Real World = 3
    write_image(base / domains[k] / "Bike" / "00001.jpg", colour(dom, 1, 0));
    write_image(base / domains[k] / "Alarm_Clock" / "00002.png", colour(dom, 0, 1));
    write_image(base / domains[k] / "Alarm_Clock" / "00001.png", colour(dom, 0, 0));
  }
}

void expect_officehome(const Dataset& d) {
  EXPECT_EQ(d.name, "officehome");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"Art", "Clipart", "Product", "Real World"}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"Alarm_Clock", "Bike"}));
  EXPECT_EQ(d.num_classes, 2);
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{12, 3, 4, 4}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1}));
  for (int dom = 0; dom < 4; ++dom) {
    expect_colour(d, 3 * dom, colour(dom, 0, 0));
    expect_colour(d, 3 * dom + 1, colour(dom, 0, 1));
    expect_colour(d, 3 * dom + 2, colour(dom, 1, 0), 4);
  }
}

TEST_F(OfficeHomeTest, OfficeHomeDoubledFolder) {
  write_officehome(dir_ / "OfficeHomeDataset_10072016" / "OfficeHomeDataset_10072016");
  expect_officehome(load_officehome(dir_, options(4)));
}

TEST_F(OfficeHomeTest, OfficeHomeSingleFolderAndDirectRoot) {
  write_officehome(dir_ / "OfficeHomeDataset_10072016");
  write_bytes(dir_ / "OfficeHomeDataset_10072016" / "ImageInfo.csv", "ignored");
  expect_officehome(load_officehome(dir_, options(4)));
  expect_officehome(load_officehome(dir_ / "OfficeHomeDataset_10072016", options(4)));
}

TEST_F(OfficeHomeTest, OfficeHomeMissingDomainOrClass) {
  write_officehome(dir_);
  fs::remove_all(dir_ / "Product");
  std::string msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "'Product'")) << msg;
  EXPECT_FALSE(contains(msg, "'Art'")) << msg;
  write_officehome(dir_);
  fs::remove_all(dir_ / "Clipart" / "Bike");
  msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "domain 'Clipart' lacks 'Bike'")) << msg;
  fs::remove_all(dir_ / "Art");
  fs::remove_all(dir_ / "Clipart");
  fs::remove_all(dir_ / "Product");
  fs::remove_all(dir_ / "Real World");
  msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "no domain folder")) << msg;
}

}  // namespace
}  // namespace moedil::data
