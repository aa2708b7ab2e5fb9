#include "moedil/data/image_cache.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "moedil/data/image_folder.h"
#include "image_fixtures.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;
using namespace image_fixtures;

// The cache is driven through load_image_folder, the smallest layout.
class ImageCacheTest : public ImageDataTest {};

TEST_F(ImageCacheTest, CacheRoundTrip) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root / "train");
  write_image(root / "val" / "dA" / "cat" / "v.png", colour(0, 0, 5));
  write_image(root / "val" / "dA" / "dog" / "v.png", colour(0, 1, 5));
  write_image(root / "val" / "dB" / "cat" / "v.png", colour(1, 0, 5));
  write_image(root / "val" / "dB" / "dog" / "v.png", colour(1, 1, 5));
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  take_log();
  const Dataset first = load_image_folder("cached", root, o);
  std::string log = take_log();
  EXPECT_FALSE(contains(log, "loaded from cache")) << log;
  EXPECT_TRUE(contains(log, "wrote cache")) << log;
  const std::vector<fs::path> files = cache_files(cache);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".bin");
  EXPECT_EQ(files[0].filename().string().rfind("cached-", 0), 0u) << files[0];
  ASSERT_EQ(first.size(), 12);
  ASSERT_TRUE(first.has_domains());
  ASSERT_TRUE(first.has_test_split());

  // The images are mapped from the file, so patching the file below shows in `first` too: the
  // comparisons use a copy.
  Dataset reference = first;
  reference.images = first.images.clone();
  const Dataset second = load_image_folder("cached", root, o);
  log = take_log();
  EXPECT_TRUE(contains(log, "[data] cached: loaded from cache " + files[0].string())) << log;
  EXPECT_FALSE(contains(log, "decoding")) << log;
  expect_same(first, second);
  EXPECT_EQ(cache_files(cache).size(), 1u);

  // Proof that the second load read the cache: change the last pixel byte of image 11 in the
  // file (the images start at byte 4096, 3 x kH x kW bytes each).
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 12 * 3 * kH * kW - 1);
    f.put(static_cast<char>(77));
  }
  const Dataset patched = load_image_folder("cached", root, o);
  EXPECT_EQ(patched.images[11][2][kH - 1][kW - 1].item<int>(), 77);
  EXPECT_NE(reference.images[11][2][kH - 1][kW - 1].item<int>(), 77);

  // A damaged cache file is ignored (warning) and decoded again. (It is replaced, not truncated
  // in place: the datasets above still map the old file, whose pages would vanish under them.)
  fs::remove(files[0]);
  {
    std::ofstream f(files[0], std::ios::binary | std::ios::trunc);
    f << "MOEDIMGC garbage";
  }
  take_log();
  const Dataset rebuilt = load_image_folder("cached", root, o);
  log = take_log();
  EXPECT_TRUE(contains(log, "ignoring cache file")) << log;
  EXPECT_TRUE(contains(log, "decoding")) << log;
  expect_same(reference, rebuilt);
  EXPECT_EQ(load_image_folder("cached", root, o).images[11][2][kH - 1][kW - 1].item<int>(),
            reference.images[11][2][kH - 1][kW - 1].item<int>());
}

/// The lines of /proc/self/maps that map `file`.
int mappings_of(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string name = fs::canonical(file).string();
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= name.size() && line.compare(line.size() - name.size(), name.size(), name) == 0) {
      ++count;
    }
  }
  return count;
}

TEST_F(ImageCacheTest, CachedImagesAreMappedFromTheFileNotCopied) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root);
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  fs::path file;
  {
    // Decoded straight into the cache and mapped from it, on the first load already.
    Dataset first = load_image_folder("mapped", root, o);
    ASSERT_EQ(cache_files(cache).size(), 1u);
    file = cache_files(cache)[0];
    EXPECT_EQ(mappings_of(file), 1);
    // The tensor reads the file's bytes at 4096 + i * 3 * H * W.
    std::ifstream in(file, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const int64_t slot = 3 * kH * kW;
    ASSERT_GE(static_cast<int64_t>(bytes.size()), 4096 + first.size() * slot);
    const at::Tensor flat = first.images.reshape({-1});
    for (int64_t i : {int64_t{0}, slot + 7, first.size() * slot - 1}) {
      EXPECT_EQ(flat[i].item<int>(), static_cast<uint8_t>(bytes[4096 + i])) << i;
    }
    // A view (a domain's rows) keeps the mapping alive after the dataset is gone.
    at::Tensor view = first.images.narrow(0, 2, 3);
    const Dataset second = load_image_folder("mapped", root, o);
    EXPECT_EQ(mappings_of(file), 2);
    expect_same(first, second);
    const int before = view[0][0][0][0].item<int>();
    {
      const Dataset gone = std::move(first);
    }
    EXPECT_EQ(view[0][0][0][0].item<int>(), before);
  }
  EXPECT_EQ(mappings_of(file), 0);  // unmapped with the last tensor over it
}

// The normalisation statistics of a cached dataset are computed once, bit for bit as for the
// dataset in memory, and kept beside the cache file.
TEST_F(ImageCacheTest, StatisticsAreTheInMemoryDatasetsAndKeptBesideTheCache) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root);
  Dataset in_memory = load_image_folder("stats", root, options());
  EXPECT_TRUE(in_memory.mean.empty());
  compute_normalisation(in_memory);
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  const Dataset first = load_image_folder("stats", root, o);
  EXPECT_EQ(first.mean, in_memory.mean);
  EXPECT_EQ(first.stddev, in_memory.stddev);
  const fs::path stats = cache_files(cache).at(0).string() + ".stats";
  ASSERT_TRUE(fs::exists(stats));
  // Read from the file the next time: a patched first mean shows.
  {
    std::fstream f(stats, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(stats) - 6 * sizeof(double)));
    const double patched = 0.25;
    f.write(reinterpret_cast<const char*>(&patched), sizeof patched);
  }
  const Dataset second = load_image_folder("stats", root, o);
  EXPECT_EQ(second.mean[0], 0.25);
  EXPECT_EQ(second.stddev, in_memory.stddev);
  // A damaged file is computed again (and rewritten).
  {
    std::ofstream f(stats, std::ios::binary | std::ios::trunc);
    f << "garbage";
  }
  EXPECT_EQ(load_image_folder("stats", root, o).mean, in_memory.mean);
  EXPECT_EQ(load_image_folder("stats", root, o).mean, in_memory.mean);
  // A subset is not the whole dataset: its statistics are left to be computed.
  EXPECT_TRUE(subset(first, index_tensor({0, 1})).mean.empty());
}

TEST_F(ImageCacheTest, AnInterruptedOrUnwritableCacheIsNeverTrusted) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root);
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  const Dataset first = load_image_folder("cut", root, o);
  const fs::path file = cache_files(cache)[0];
  // A file cut short (a copy interrupted, a full disk) loses its footer: ignored, decoded again.
  fs::resize_file(file, fs::file_size(file) - 5);
  take_log();
  const Dataset again = load_image_folder("cut", root, o);
  std::string log = take_log();
  EXPECT_TRUE(contains(log, "ignoring cache file")) << log;
  EXPECT_TRUE(contains(log, "decoding")) << log;
  expect_same(first, again);
  // A cache folder that cannot be created (a file is in the way): a warning, images in memory.
  const fs::path blocked = dir_ / "blocked";
  write_bytes(blocked, "a file, not a folder");
  o.cache_dir = (blocked / "cache").string();
  const Dataset in_memory = load_image_folder("cut", root, o);
  log = take_log();
  EXPECT_TRUE(contains(log, "cannot write the cache")) << log;
  expect_same(first, in_memory);
}

TEST_F(ImageCacheTest, CacheInvalidatedByFolderAndOptionChanges) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root);
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  const Dataset first = load_image_folder("inv", root, o);
  ASSERT_EQ(cache_files(cache).size(), 1u);
  take_log();

  // Touch a file: its modification time changes, so the cache is rebuilt under a new key.
  const fs::path touched = root / "dA" / "cat" / "img0.png";
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(5));
  const Dataset after_touch = load_image_folder("inv", root, o);
  std::string log = take_log();
  EXPECT_FALSE(contains(log, "loaded from cache")) << log;
  EXPECT_TRUE(contains(log, "decoding")) << log;
  EXPECT_EQ(cache_files(cache).size(), 2u);
  expect_same(first, after_touch);

  // Rewrite a file with new pixels (and a new time): rebuilt, and the new pixels are used.
  write_image(touched, colour(0, 0, 9), kW, kH);
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(10));
  const Dataset after_rewrite = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  expect_colour(after_rewrite, 0, colour(0, 0, 9));

  // Add a file: rebuilt with the new image.
  write_image(root / "dB" / "dog" / "img9.png", colour(1, 1, 9));
  const Dataset after_add = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  ASSERT_EQ(after_add.size(), first.size() + 1);
  expect_colour(after_add, after_add.size() - 1, colour(1, 1, 9));
  EXPECT_EQ(cache_files(cache).size(), 4u);

  // Unchanged folder: from the cache again.
  const Dataset again = load_image_folder("inv", root, o);
  EXPECT_TRUE(contains(take_log(), "loaded from cache"));
  expect_same(after_add, again);

  // Other options (resize, skip_bad) and another dataset name get their own cache files.
  o.resize = 3;
  const Dataset resized = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  EXPECT_EQ(resized.height(), 3);
  o.skip_bad = true;
  load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  load_image_folder("other", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  EXPECT_EQ(cache_files(cache).size(), 7u);
}

}  // namespace
}  // namespace moedil::data
