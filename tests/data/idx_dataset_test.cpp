#include "moedil/data/idx_dataset.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/config/run_config.h"
#include "moedil/data/idx.h"
#include "moedil/data/registry.h"
#include "moedil/data/synthetic.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

// Fixture: 3 train and 2 test images of 2x3 pixels. Image k (in pooled order) has pixels
// 10 * k + p for p = 0..5, so both its position and its layout can be checked.
constexpr int64_t kH = 2;
constexpr int64_t kW = 3;
const std::vector<uint8_t> kTrainLabels{0, 2, 1};
const std::vector<uint8_t> kTestLabels{4, 1};

IdxArray images_array(int64_t first, int64_t count) {
  IdxArray a;
  a.dims = {count, kH, kW};
  for (int64_t k = first; k < first + count; ++k) {
    for (int64_t p = 0; p < kH * kW; ++p) a.data.push_back(static_cast<uint8_t>(10 * k + p));
  }
  return a;
}

IdxArray labels_array(const std::vector<uint8_t>& labels) {
  IdxArray a;
  a.dims = {static_cast<int64_t>(labels.size())};
  a.data = labels;
  return a;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

class IdxDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_idx_dataset_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// Writes the four files under `root`; gzip selects name.gz (compressed) or name (raw) per
  /// split: {train, t10k}.
  static void write_fixture(const fs::path& root, bool train_gz, bool test_gz) {
    fs::create_directories(root);
    const auto put = [&](const std::string& stem, const IdxArray& a, bool gz) {
      write_idx(root / (stem + (gz ? ".gz" : "")), a, gz);
    };
    put("train-images-idx3-ubyte", images_array(0, 3), train_gz);
    put("train-labels-idx1-ubyte", labels_array(kTrainLabels), train_gz);
    put("t10k-images-idx3-ubyte", images_array(3, 2), test_gz);
    put("t10k-labels-idx1-ubyte", labels_array(kTestLabels), test_gz);
  }

  static void expect_fixture(const Dataset& d, const std::string& name) {
    EXPECT_EQ(d.name, name);
    ASSERT_TRUE(d.images.defined());
    EXPECT_EQ(d.images.sizes(), (at::IntArrayRef{5, 1, kH, kW}));
    EXPECT_EQ(d.images.scalar_type(), at::kByte);
    EXPECT_TRUE(d.images.is_contiguous());
    EXPECT_EQ(d.labels.scalar_type(), at::kLong);
    // Train first, then t10k.
    EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 2, 1, 4, 1}));
    EXPECT_EQ(d.num_classes, 5);
    EXPECT_FALSE(d.has_domains());
    for (int64_t k = 0; k < 5; ++k) {
      for (int64_t y = 0; y < kH; ++y) {
        for (int64_t x = 0; x < kW; ++x) {
          EXPECT_EQ(d.images[k][0][y][x].item<int64_t>(), 10 * k + y * kW + x)
              << "image " << k << " pixel (" << y << ", " << x << ")";
        }
      }
    }
  }

  fs::path dir_;
};

TEST_F(IdxDatasetTest, LoadsGzipFilesTrainThenTest) {
  write_fixture(dir_, true, true);
  expect_fixture(load_idx_dataset("fixture", dir_, "hint"), "fixture");
}

TEST_F(IdxDatasetTest, LoadsRawFiles) {
  write_fixture(dir_, false, false);
  expect_fixture(load_idx_dataset("raw", dir_, "hint"), "raw");
}

TEST_F(IdxDatasetTest, LoadsMixedGzipAndRaw) {
  write_fixture(dir_, true, false);
  expect_fixture(load_idx_dataset("mixed", dir_, "hint"), "mixed");
}

TEST_F(IdxDatasetTest, NumClassesIsMaxLabelPlusOne) {
  write_fixture(dir_, true, true);
  write_idx(dir_ / "t10k-labels-idx1-ubyte.gz", labels_array({9, 3}), true);
  const Dataset d = load_idx_dataset("x", dir_, "");
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 2, 1, 9, 3}));
}

TEST_F(IdxDatasetTest, MissingFileNamesPathAndHint) {
  write_fixture(dir_, true, true);
  fs::remove(dir_ / "t10k-labels-idx1-ubyte.gz");
  try {
    load_idx_dataset("x", dir_, "Install the frobnicator package.");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir_ / "t10k-labels-idx1-ubyte").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("Install the frobnicator package."), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  }
}

TEST_F(IdxDatasetTest, MissingRootNamesFirstFile) {
  try {
    load_idx_dataset("x", dir_ / "nowhere", "HINT");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir_ / "nowhere" / "train-images-idx3-ubyte").string()),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("HINT"), std::string::npos) << msg;
  }
}

TEST_F(IdxDatasetTest, MismatchedImageAndLabelCounts) {
  write_fixture(dir_, true, true);
  write_idx(dir_ / "train-labels-idx1-ubyte.gz", labels_array({0, 1, 2, 3}), true);
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), DataError);
}

TEST_F(IdxDatasetTest, MismatchedCountsInTestSplit) {
  write_fixture(dir_, true, true);
  write_idx(dir_ / "t10k-labels-idx1-ubyte.gz", labels_array({1}), true);
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), DataError);
}

TEST_F(IdxDatasetTest, WrongRankOrImageSize) {
  write_fixture(dir_, true, true);
  // Images stored as 2-d [N, H*W].
  IdxArray flat = images_array(0, 3);
  flat.dims = {3, kH * kW};
  write_idx(dir_ / "train-images-idx3-ubyte.gz", flat, true);
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), DataError);
  // Test images of another size than the train images.
  write_fixture(dir_, true, true);
  IdxArray other = images_array(3, 2);
  other.dims = {2, kW, kH};
  write_idx(dir_ / "t10k-images-idx3-ubyte.gz", other, true);
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), DataError);
}

TEST_F(IdxDatasetTest, CorruptFileIsDataError) {
  write_fixture(dir_, true, true);
  fs::remove(dir_ / "train-images-idx3-ubyte.gz");
  { std::FILE* f = std::fopen((dir_ / "train-images-idx3-ubyte").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("not an idx file", f);
    std::fclose(f); }
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), DataError);
}

TEST_F(IdxDatasetTest, AFifoNamedLikeADatasetFileIsRefusedAtOnce) {
  write_fixture(dir_, true, true);
  fs::remove(dir_ / "train-images-idx3-ubyte.gz");
  const fs::path fifo = dir_ / "train-images-idx3-ubyte.gz";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  // Opening a FIFO for reading waits for a writer: run it apart so a hang fails the test.
  auto result = std::async(std::launch::async, [this] {
    try {
      load_idx_dataset("x", dir_, "");
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string("no DataError");
  });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "loading blocked on the FIFO";
    std::_Exit(1);  // the blocked thread cannot be joined
  }
  const std::string msg = result.get();
  EXPECT_NE(msg.find(fifo.string() + ": is a FIFO (named pipe), not a regular file"),
            std::string::npos)
      << msg;
}

TEST_F(IdxDatasetTest, ASymlinkLoopIsADataErrorNamingTheFile) {
  write_fixture(dir_, true, true);
  fs::remove(dir_ / "t10k-images-idx3-ubyte.gz");
  fs::create_symlink(dir_ / "t10k-images-idx3-ubyte", dir_ / "t10k-images-idx3-ubyte.gz");
  fs::create_symlink(dir_ / "t10k-images-idx3-ubyte.gz", dir_ / "t10k-images-idx3-ubyte");
  try {
    load_idx_dataset("x", dir_, "");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir_ / "t10k-images-idx3-ubyte.gz").string() +
                       ": is a symbolic-link loop"),
              std::string::npos)
        << msg;
  }
}

TEST_F(IdxDatasetTest, ImagesOfZeroPixelsOrNoImagesAtAllAreDataErrors) {
  write_fixture(dir_, true, true);
  IdxArray empty_images;
  empty_images.dims = {3, 0, 0};
  write_idx(dir_ / "train-images-idx3-ubyte.gz", empty_images, true);
  try {
    load_idx_dataset("x", dir_, "");
    FAIL() << "0x0 images were accepted";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir_ / "train-images-idx3-ubyte.gz").string() +
                       ": declares images of 0x0 pixels"),
              std::string::npos)
        << msg;
  }
  IdxArray none = images_array(0, 0);
  write_idx(dir_ / "train-images-idx3-ubyte.gz", none, true);
  write_idx(dir_ / "train-labels-idx1-ubyte.gz", labels_array({}), true);
  write_idx(dir_ / "t10k-images-idx3-ubyte.gz", none, true);
  write_idx(dir_ / "t10k-labels-idx1-ubyte.gz", labels_array({}), true);
  try {
    load_idx_dataset("x", dir_, "");
    FAIL() << "a dataset of 0 images was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("declare 0 images in all"), std::string::npos)
        << e.what();
  }
}

TEST_F(IdxDatasetTest, AStopRequestEndsLoading) {
  write_fixture(dir_, true, true);
  stop_flag().store(15);
  EXPECT_THROW(load_idx_dataset("x", dir_, ""), InterruptedError);
  config::RunConfig c;
  c.dataset = "synthetic";
  EXPECT_THROW(make_dataset(c), InterruptedError);  // normalisation polls too
  stop_flag().store(0);
}

// ---- dataset registry ------------------------------------------------------------------

TEST(DatasetRegistryTest, Names) {
  EXPECT_EQ(dataset_registry().names(),
            (std::vector<std::string>{"fashion_mnist", "mnist", "cifar10", "cifar100",
                                      "imagefolder", "officehome", "core50", "synthetic"}));
}

TEST_F(IdxDatasetTest, MakeDatasetFashionMnistFromRoot) {
  write_fixture(dir_, true, true);
  config::RunConfig c;
  c.dataset = "fashion_mnist";
  c.dataset_root = dir_.string();
  const Dataset d = make_dataset(c);
  expect_fixture(d, "fashion_mnist");
  // Normalisation statistics are computed from the pooled images.
  ASSERT_EQ(d.mean.size(), 1u);
  ASSERT_EQ(d.stddev.size(), 1u);
  const double mean = d.images.to(at::kDouble).div(255.0).mean().item<double>();
  EXPECT_NEAR(d.mean[0], mean, 1e-12);
  EXPECT_GT(d.stddev[0], 0.0);
}

TEST_F(IdxDatasetTest, MakeDatasetMnistFromRoot) {
  write_fixture(dir_, false, false);
  config::RunConfig c;
  c.dataset = "mnist";
  c.dataset_root = dir_.string();
  expect_fixture(make_dataset(c), "mnist");
}

TEST_F(IdxDatasetTest, MakeDatasetMiniDatasetSubsamples) {
  write_fixture(dir_, true, true);
  config::RunConfig c;
  c.dataset = "fashion_mnist";
  c.dataset_root = dir_.string();
  c.mini_dataset = 3;
  c.seeds.dataset = 5;
  const Dataset d = make_dataset(c);
  ASSERT_EQ(d.size(), 3);
  const std::vector<int64_t> all_labels{0, 2, 1, 4, 1};
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t row = d.images[i][0][0][0].item<int64_t>() / 10;
    rows.push_back(row);
    EXPECT_EQ(d.labels[i].item<int64_t>(), all_labels[static_cast<std::size_t>(row)]);
  }
  EXPECT_EQ(std::set<int64_t>(rows.begin(), rows.end()).size(), 3u);
  // Same seed, same subset.
  const Dataset again = make_dataset(c);
  EXPECT_TRUE(again.images.equal(d.images));
  // Normalisation is computed on the subset.
  const double mean = d.images.to(at::kDouble).div(255.0).mean().item<double>();
  EXPECT_NEAR(d.mean[0], mean, 1e-12);
}

TEST_F(IdxDatasetTest, MakeDatasetMissingRootMentionsDebianPackage) {
  config::RunConfig c;
  c.dataset = "fashion_mnist";
  c.dataset_root = (dir_ / "absent").string();
  try {
    make_dataset(c);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
    EXPECT_NE(msg.find((dir_ / "absent").string()), std::string::npos) << msg;
  }
}

TEST(DatasetRegistryTest, SyntheticDefaults) {
  config::RunConfig c;
  c.dataset = "synthetic";
  const Dataset d = make_dataset(c);
  EXPECT_EQ(d.name, "synthetic");
  EXPECT_EQ(d.size(), 480);
  EXPECT_EQ(d.images.sizes(), (at::IntArrayRef{480, 1, 8, 8}));
  EXPECT_EQ(d.num_classes, 4);
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"d0", "d1", "d2"}));
  ASSERT_TRUE(d.has_domains());
  EXPECT_EQ(d.domain_ids.min().item<int64_t>(), 0);
  EXPECT_EQ(d.domain_ids.max().item<int64_t>(), 2);
  EXPECT_EQ(d.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(d.labels.max().item<int64_t>(), 3);
  // 480 = 4 classes x 3 domains x 40: every (class, domain) pair appears 40 times.
  const at::Tensor pair = d.labels * 3 + d.domain_ids;
  EXPECT_TRUE(at::bincount(pair).eq(40).all().item<bool>());
  ASSERT_EQ(d.mean.size(), 1u);
  EXPECT_GT(d.mean[0], 0.0);
  EXPECT_LT(d.mean[0], 1.0);
}

TEST(DatasetRegistryTest, SyntheticMiniDatasetSetsSize) {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.mini_dataset = 12;
  const Dataset d = make_dataset(c);
  EXPECT_EQ(d.size(), 12);
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_EQ(to_vector(d.domain_ids),
            (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(d.domain_names.size(), 3u);
}

TEST(DatasetRegistryTest, SyntheticDeterministicPerSeed) {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.mini_dataset = 24;
  const Dataset a = make_dataset(c);
  const Dataset b = make_dataset(c);
  EXPECT_TRUE(a.images.equal(b.images));
  c.seeds.dataset = 1;
  EXPECT_FALSE(make_dataset(c).images.equal(a.images));
}

TEST(DatasetRegistryTest, UnknownDatasetIsConfigError) {
  config::RunConfig c;
  c.dataset = "fashon_mnist";
  try {
    make_dataset(c);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'fashon_mnist'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'fashion_mnist'"), std::string::npos) << msg;
  }
  c.dataset = "imagenet";
  EXPECT_THROW(make_dataset(c), ConfigError);
}

}  // namespace
}  // namespace moedil::data
