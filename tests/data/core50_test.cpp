#include "moedil/data/core50.h"

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

class Core50Test : public ImageDataTest {};

TEST_F(Core50Test, Core50NumericSessionOrderAndObjectLabels) {
  write_core50(dir_ / "core50_128x128");
  const Dataset d = load_core50(dir_, "object", options());
  EXPECT_EQ(d.name, "core50");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"s1", "s2", "s10", "s11"}));
  EXPECT_EQ(d.num_classes, 50);
  ASSERT_EQ(d.class_names.size(), 50u);
  EXPECT_EQ(d.class_names[0], "o1");
  EXPECT_EQ(d.class_names[49], "o50");
  ASSERT_EQ(d.size(), 12);
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  // Objects in numeric order too: o1, o6, o50.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 5, 49, 0, 5, 49, 0, 5, 49, 0, 5, 49}));
  for (int s = 0; s < 4; ++s) {
    for (int o = 0; o < 3; ++o) expect_colour(d, 3 * s + o, colour(s, o, 0));
  }
}

TEST_F(Core50Test, Core50CategoryLabelsAndDirectRoot) {
  write_core50(dir_);  // root is the core50_128x128 folder itself
  const Dataset d = load_core50(dir_, "category", options());
  EXPECT_EQ(d.num_classes, 10);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[0], "plug_adapter");
  EXPECT_EQ(d.class_names[9], "remote_control");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"s1", "s2", "s10", "s11"}));
  // o1 -> 0, o6 -> 1, o50 -> 9.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 9, 0, 1, 9, 0, 1, 9, 0, 1, 9}));
}

TEST_F(Core50Test, Core50Errors) {
  write_core50(dir_);
  EXPECT_THROW(load_core50(dir_, "objects", options()), ConfigError);
  fs::remove_all(dir_ / "s10" / "o6");
  std::string msg = message_of([&] { load_core50(dir_, "object", options()); });
  EXPECT_TRUE(contains(msg, "domain 's10' lacks 'o6'")) << msg;
  write_image(dir_ / "s10" / "o6" / "x.png", {1, 2, 3});
  write_image(dir_ / "s1" / "o51" / "x.png", {1, 2, 3});
  msg = message_of([&] { load_core50(dir_, "object", options()); });
  EXPECT_TRUE(contains(msg, (dir_ / "s1" / "o51").string())) << msg;
  msg = message_of([&] { load_core50(dir_ / "s1" / "o1", "object", options()); });
  EXPECT_TRUE(contains(msg, "no session folders")) << msg;
}

TEST_F(Core50Test, Core50CacheKeyDependsOnLabels) {
  write_core50(dir_ / "core50_128x128");
  ImageLoadOptions o = options();
  o.cache_dir = (dir_ / "cache").string();
  const Dataset objects = load_core50(dir_, "object", o);
  const Dataset categories = load_core50(dir_, "category", o);
  EXPECT_EQ(categories.num_classes, 10);
  EXPECT_EQ(to_vector(categories.labels)[2], 9);
  EXPECT_EQ(cache_files(dir_ / "cache").size(), 2u);
  take_log();
  const Dataset cached = load_core50(dir_, "category", o);
  EXPECT_TRUE(contains(take_log(), "loaded from cache"));
  expect_same(categories, cached);
}

}  // namespace
}  // namespace moedil::data
