// The dataset extent from headers and listings, against what the loaders actually load.
#include "moedil/data/extent.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "moedil/data/idx.h"
#include "moedil/data/registry.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

class ExtentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_extent_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  config::RunConfig config_for(const std::string& dataset, const fs::path& root) const {
    config::RunConfig c;
    c.dataset = dataset;
    c.dataset_root = root.string();
    return c;
  }

  /// The extent must describe what make_dataset loads.
  static void expect_matches_loader(const config::RunConfig& c) {
    const DatasetExtent e = dataset_extent(c);
    const Dataset d = make_dataset(c);
    EXPECT_TRUE(e.from_files);
    EXPECT_EQ(e.images, static_cast<double>(d.size()));
    EXPECT_EQ(e.channels, d.channels());
    EXPECT_EQ(e.height, d.height());
    EXPECT_EQ(e.width, d.width());
    EXPECT_EQ(e.bytes(), static_cast<double>(d.images.numel()));
  }

  fs::path dir_;
};

void write_idx_pair(const fs::path& root, const std::string& split, int64_t n, int64_t h,
                    int64_t w, bool gz) {
  IdxArray images;
  images.dims = {n, h, w};
  images.data.assign(static_cast<std::size_t>(n * h * w), 7);
  IdxArray labels;
  labels.dims = {n};
  for (int64_t i = 0; i < n; ++i) labels.data.push_back(static_cast<uint8_t>(i % 3));
  const std::string suffix = gz ? ".gz" : "";
  write_idx(root / (split + "-images-idx3-ubyte" + suffix), images, gz);
  write_idx(root / (split + "-labels-idx1-ubyte" + suffix), labels, gz);
}

TEST_F(ExtentTest, IdxHeadersGiveCountAndSideRawOrGzip) {
  write_idx_pair(dir_, "train", 30, 6, 5, /*gz=*/true);
  write_idx_pair(dir_, "t10k", 12, 6, 5, /*gz=*/false);
  expect_matches_loader(config_for("mnist", dir_));
  config::RunConfig c = config_for("fashion_mnist", dir_);
  c.mini_dataset = 10;
  EXPECT_EQ(dataset_extent(c).images, 10.0);
  expect_matches_loader(c);
}

TEST_F(ExtentTest, MissingFilesGiveTheNominalSize) {
  const DatasetExtent e = dataset_extent(config_for("fashion_mnist", dir_ / "nowhere"));
  EXPECT_FALSE(e.from_files);
  EXPECT_EQ(e.images, 70000.0);
  EXPECT_EQ(e.bytes(), 70000.0 * 28 * 28);
  const DatasetExtent cifar = dataset_extent(config_for("cifar100", dir_ / "nowhere"));
  EXPECT_EQ(cifar.bytes(), 60000.0 * 3 * 32 * 32);
  EXPECT_EQ(cifar.num_classes, 100);
}

TEST_F(ExtentTest, AFifoNamedLikeADatasetFileIsNotOpened) {
  // Opening it would block until a writer came: the extent must not read it.
  ASSERT_EQ(::mkfifo((dir_ / "train-images-idx3-ubyte").c_str(), 0600), 0);
  write_idx_pair(dir_, "t10k", 12, 6, 5, false);
  const DatasetExtent e = dataset_extent(config_for("mnist", dir_));
  EXPECT_FALSE(e.from_files);
}

TEST_F(ExtentTest, CifarCountsRecordsFromFileSizes) {
  const fs::path nested = dir_ / "cifar-10-batches-bin";
  fs::create_directories(nested);
  const std::vector<std::string> files{"data_batch_1.bin", "data_batch_2.bin",
                                       "data_batch_3.bin", "data_batch_4.bin",
                                       "data_batch_5.bin", "test_batch.bin"};
  for (std::size_t k = 0; k < files.size(); ++k) {
    std::ofstream out(nested / files[k], std::ios::binary);
    for (std::size_t r = 0; r < 2 + k; ++r) {
      out.put(static_cast<char>(r % 10));
      out << std::string(3072, '\x05');
    }
  }
  const DatasetExtent e = dataset_extent(config_for("cifar10", dir_));
  EXPECT_EQ(e.images, 2.0 + 3 + 4 + 5 + 6 + 7);
  expect_matches_loader(config_for("cifar10", dir_));
}

TEST_F(ExtentTest, ImageFoldersCountTheirImagesAtTheResizedSide) {
  const cv::Mat image(9, 12, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const char* domain : {"a", "b"}) {
    for (const char* cls : {"cat", "dog", "eel"}) {
      for (int k = 0; k < 2; ++k) {
        const fs::path p = dir_ / domain / cls / (std::to_string(k) + ".png");
        fs::create_directories(p.parent_path());
        ASSERT_TRUE(cv::imwrite(p.string(), image));
      }
    }
  }
  fs::create_directories(dir_ / "__MACOSX" / "x");
  ASSERT_TRUE(cv::imwrite((dir_ / "__MACOSX" / "x" / "junk.png").string(), image));
  std::ofstream(dir_ / "a" / "cat" / "notes.txt") << "not an image";
  config::RunConfig c = config_for("imagefolder", dir_);
  const DatasetExtent own = dataset_extent(c);
  EXPECT_EQ(own.images, 12.0);
  EXPECT_EQ(own.num_classes, 3);
  EXPECT_EQ(own.height, 9);  // the images' own size without resize
  EXPECT_EQ(own.width, 12);
  expect_matches_loader(c);
  c.resize = 16;
  EXPECT_EQ(dataset_extent(c).bytes(), 12.0 * 3 * 16 * 16);
  expect_matches_loader(c);
}

TEST_F(ExtentTest, Core50CountsItsSessionsAndIgnoresOtherFolders) {
  const cv::Mat image(10, 10, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const char* session : {"s1", "s2"}) {
    for (const char* object : {"o1", "o2"}) {
      const fs::path p = dir_ / "core50_128x128" / session / object / "x.png";
      fs::create_directories(p.parent_path());
      ASSERT_TRUE(cv::imwrite(p.string(), image));
    }
  }
  config::RunConfig c = config_for("core50", dir_);
  c.resize = 12;
  const DatasetExtent e = dataset_extent(c);
  EXPECT_TRUE(e.from_files);
  EXPECT_EQ(e.images, 4.0);
  EXPECT_EQ(e.num_classes, 50);
  EXPECT_EQ(e.bytes(), 4.0 * 3 * 12 * 12);
  expect_matches_loader(c);
  // A root holding other things (no core50_128x128, no s1) is not counted: nominal size.
  const DatasetExtent other = dataset_extent(config_for("core50", dir_ / "core50_128x128" / "s1"));
  EXPECT_FALSE(other.from_files);
  EXPECT_EQ(other.images, 164866.0);
}

TEST_F(ExtentTest, SyntheticIsItsGeneratedSize) {
  config::RunConfig c = config_for("synthetic", "");
  c.mini_dataset = 240;
  EXPECT_EQ(dataset_extent(c).bytes(), 240.0 * 1 * 8 * 8);
  expect_matches_loader(c);
}

TEST_F(ExtentTest, EveryRegisteredDatasetHasAnExtent) {
  for (const auto& entry : dataset_registry().entries()) {
    SCOPED_TRACE(entry.name);
    const DatasetExtent e = dataset_extent(config_for(entry.name, dir_ / "nowhere"));
    EXPECT_GT(e.channels * e.height * e.width, 0);
    if (entry.name != "imagefolder") EXPECT_GT(e.images, 0.0);  // nominal sizes
  }
}

}  // namespace
}  // namespace moedil::data
