#include "moedil/data/cifar.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"
#include "moedil/data/registry.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;
constexpr int64_t kPixels = 3 * kSide * kSide;  // 3072

// Pixel (c, y, x) of the record with pooled index k. Differs between channels, between rows
// and columns (y * 7 + x * 3 is not symmetric) and between records, so a record in the wrong
// place or a plane read in the wrong layout shows up.
uint8_t pixel(int64_t k, int64_t c, int64_t y, int64_t x) {
  return static_cast<uint8_t>((k * 37 + c * 101 + y * 7 + x * 3) % 256);
}

/// One record: the label bytes, then the 3072 pixel bytes of record k (R, G, B planes).
std::vector<uint8_t> record(const std::vector<uint8_t>& label_bytes, int64_t k) {
  std::vector<uint8_t> r = label_bytes;
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) r.push_back(pixel(k, c, y, x));
    }
  }
  return r;
}

void append(std::vector<uint8_t>& out, const std::vector<uint8_t>& bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// Number of pixels of image k of d that differ from pixel(k, ...).
int64_t wrong_pixels(const Dataset& d, int64_t k) {
  const auto a = d.images.accessor<uint8_t, 4>();
  int64_t wrong = 0;
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) wrong += a[k][c][y][x] != pixel(k, c, y, x);
    }
  }
  return wrong;
}

/// The message of the DataError that f() throws ("" and a test failure when none).
template <typename F>
std::string data_error(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected DataError";
  return "";
}

bool contains(const std::string& msg, const std::string& part) {
  return msg.find(part) != std::string::npos;
}

/// Record layout with hand-placed pixels: R plane 1, G plane 2, B plane 3, except R (0, 1) =
/// 200, G (2, 0) = 201, B (31, 31) = 202, B (5, 7) = 203.
std::vector<uint8_t> marked_record(const std::vector<uint8_t>& label_bytes) {
  std::vector<uint8_t> r = label_bytes;
  const std::size_t base = r.size();
  r.resize(base + kPixels);
  std::fill(r.begin() + base, r.begin() + base + 1024, 1);
  std::fill(r.begin() + base + 1024, r.begin() + base + 2048, 2);
  std::fill(r.begin() + base + 2048, r.end(), 3);
  r[base + 0 * 1024 + 0 * 32 + 1] = 200;
  r[base + 1 * 1024 + 2 * 32 + 0] = 201;
  r[base + 2 * 1024 + 31 * 32 + 31] = 202;
  r[base + 2 * 1024 + 5 * 32 + 7] = 203;
  return r;
}

void expect_marked_image(const Dataset& d, int64_t k) {
  const auto a = d.images.accessor<uint8_t, 4>();
  EXPECT_EQ(a[k][0][0][1], 200);
  EXPECT_EQ(a[k][1][2][0], 201);
  EXPECT_EQ(a[k][2][31][31], 202);
  EXPECT_EQ(a[k][2][5][7], 203);
  // Neighbours keep their plane's value (no transposition, no channel shift).
  EXPECT_EQ(a[k][0][1][0], 1);
  EXPECT_EQ(a[k][0][0][0], 1);
  EXPECT_EQ(a[k][1][0][2], 2);
  EXPECT_EQ(a[k][2][7][5], 3);
  EXPECT_EQ(a[k][2][0][0], 3);
  const int64_t sum = d.images[k].sum().item<int64_t>();
  EXPECT_EQ(sum, 1024 * (1 + 2 + 3) + (200 - 1) + (201 - 2) + (202 - 3) + (203 - 3));
}

class CifarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_cifar_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // ---- CIFAR-10 fixture: data_batch_1..5 hold 2, 3, 1, 2, 3 records, test_batch 2 -------------

  static constexpr int64_t kTrain10 = 11;
  static constexpr int64_t kTest10 = 2;
  static const std::vector<int64_t>& train10_counts() {
    static const std::vector<int64_t> counts{2, 3, 1, 2, 3};
    return counts;
  }
  // Label of pooled record k: 0 3 6 9 2 5 8 1 4 7 0 | 3 6 (9, the largest label, included).
  static uint8_t label10(int64_t k) { return static_cast<uint8_t>((k * 3) % 10); }

  static void write_cifar10(const fs::path& root) {
    int64_t k = 0;
    for (int64_t b = 0; b < 5; ++b) {
      std::vector<uint8_t> bytes;
      for (int64_t r = 0; r < train10_counts()[static_cast<std::size_t>(b)]; ++r, ++k) {
        append(bytes, record({label10(k)}, k));
      }
      write_file(root / ("data_batch_" + std::to_string(b + 1) + ".bin"), bytes);
    }
    std::vector<uint8_t> test;
    for (int64_t r = 0; r < kTest10; ++r, ++k) append(test, record({label10(k)}, k));
    write_file(root / "test_batch.bin", test);
  }

  static void expect_cifar10(const Dataset& d) {
    const int64_t n = kTrain10 + kTest10;
    EXPECT_EQ(d.name, "cifar10");
    ASSERT_TRUE(d.images.defined());
    EXPECT_EQ(d.images.sizes(), (at::IntArrayRef{n, 3, kSide, kSide}));
    EXPECT_EQ(d.images.scalar_type(), at::kByte);
    EXPECT_TRUE(d.images.is_contiguous());
    ASSERT_EQ(d.labels.scalar_type(), at::kLong);
    std::vector<int64_t> labels;
    for (int64_t k = 0; k < n; ++k) labels.push_back(label10(k));
    EXPECT_EQ(to_vector(d.labels), labels);
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_FALSE(d.has_domains());
    ASSERT_TRUE(d.has_test_split());
    EXPECT_EQ(d.is_test.scalar_type(), at::kBool);
    std::vector<int64_t> is_test(static_cast<std::size_t>(n), 0);
    std::fill(is_test.begin() + kTrain10, is_test.end(), 1);
    EXPECT_EQ(to_vector(d.is_test), is_test);
    for (int64_t k = 0; k < n; ++k) EXPECT_EQ(wrong_pixels(d, k), 0) << "image " << k;
  }

  // ---- CIFAR-100 fixture: train.bin holds 4 records, test.bin 3 ------------------------------

  static constexpr int64_t kTrain100 = 4;
  static constexpr int64_t kTest100 = 3;
  // Labels of pooled record k; record 0 has the largest of each (99 fine, 19 coarse).
  static uint8_t fine100(int64_t k) { return static_cast<uint8_t>((k * 13 + 99) % 100); }
  static uint8_t coarse100(int64_t k) { return static_cast<uint8_t>((k * 7 + 19) % 20); }

  static void write_cifar100(const fs::path& root) {
    std::vector<uint8_t> train;
    std::vector<uint8_t> test;
    for (int64_t k = 0; k < kTrain100 + kTest100; ++k) {
      append(k < kTrain100 ? train : test, record({coarse100(k), fine100(k)}, k));
    }
    write_file(root / "train.bin", train);
    write_file(root / "test.bin", test);
  }

  static void expect_cifar100(const Dataset& d, bool fine) {
    const int64_t n = kTrain100 + kTest100;
    EXPECT_EQ(d.name, "cifar100");
    ASSERT_TRUE(d.images.defined());
    EXPECT_EQ(d.images.sizes(), (at::IntArrayRef{n, 3, kSide, kSide}));
    EXPECT_EQ(d.images.scalar_type(), at::kByte);
    EXPECT_TRUE(d.images.is_contiguous());
    ASSERT_EQ(d.labels.scalar_type(), at::kLong);
    std::vector<int64_t> labels;
    for (int64_t k = 0; k < n; ++k) labels.push_back(fine ? fine100(k) : coarse100(k));
    EXPECT_EQ(to_vector(d.labels), labels);
    EXPECT_EQ(d.num_classes, fine ? 100 : 20);
    EXPECT_FALSE(d.has_domains());
    ASSERT_TRUE(d.has_test_split());
    EXPECT_EQ(to_vector(d.is_test), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1}));
    for (int64_t k = 0; k < n; ++k) EXPECT_EQ(wrong_pixels(d, k), 0) << "image " << k;
  }

  fs::path dir_;
};

const std::vector<std::string> kCifar10Names{"airplane", "automobile", "bird",  "cat",  "deer",
                                             "dog",      "frog",       "horse", "ship", "truck"};

// ---- CIFAR-10 ------------------------------------------------------------------------------

TEST_F(CifarTest, Cifar10LoadsTrainBatchesInOrderThenTest) {
  write_cifar10(dir_);
  expect_cifar10(load_cifar10(dir_));
}

// dataset_split "train" (the predecessor's CIFAR-10): the training batches alone, with no
// test split left; mini_dataset draws from them. A dataset without splits refuses it.
TEST_F(CifarTest, DatasetSplitTrainReadsTheTrainingBatchesOnly) {
  write_cifar10(dir_);
  config::RunConfig c;
  c.dataset = "cifar10";
  c.dataset_root = dir_.string();
  EXPECT_EQ(make_dataset(c).size(), kTrain10 + kTest10);
  c.dataset_split = "train";
  const Dataset d = make_dataset(c);
  EXPECT_FALSE(d.has_test_split());
  std::vector<int64_t> labels;
  for (int64_t k = 0; k < kTrain10; ++k) labels.push_back(label10(k));
  EXPECT_EQ(to_vector(d.labels), labels);
  for (int64_t k = 0; k < kTrain10; ++k) EXPECT_EQ(wrong_pixels(d, k), 0) << "image " << k;
  c.mini_dataset = 12;  // more than the training split holds: all 11
  EXPECT_EQ(make_dataset(c).size(), kTrain10);
  c.mini_dataset = 4;
  const Dataset mini = make_dataset(c);
  ASSERT_EQ(mini.size(), 4);
  EXPECT_EQ(to_vector(mini.labels).size(), 4u);
  config::RunConfig synthetic;
  synthetic.dataset = "synthetic";
  synthetic.dataset_split = "train";
  try {
    make_dataset(synthetic);
    ADD_FAILURE() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "dataset_split: 'train' but 'synthetic'")) << e.what();
  }
}

TEST_F(CifarTest, Cifar10PixelPlanesLandInChannelRowColumn) {
  write_cifar10(dir_);
  // Second record of data_batch_2 (pooled index 3) replaced by the hand-marked record.
  std::vector<uint8_t> bytes = record({label10(2)}, 2);
  append(bytes, marked_record({7}));
  append(bytes, record({label10(4)}, 4));
  write_file(dir_ / "data_batch_2.bin", bytes);
  const Dataset d = load_cifar10(dir_);
  expect_marked_image(d, 3);
  EXPECT_EQ(d.labels[3].item<int64_t>(), 7);
  EXPECT_EQ(wrong_pixels(d, 2), 0);
  EXPECT_EQ(wrong_pixels(d, 4), 0);
}

TEST_F(CifarTest, Cifar10DefaultClassNames) {
  write_cifar10(dir_);
  EXPECT_EQ(load_cifar10(dir_).class_names, kCifar10Names);
}

TEST_F(CifarTest, Cifar10ClassNamesFromMetaFile) {
  write_cifar10(dir_);
  // As in the archive: one name per line, then blank lines; CRLF and spaces are tolerated.
  write_text(dir_ / "batches.meta.txt", "c0\nc1\r\n  c2 \nc3\nc4\nc5\nc6\nc7\nc8\nc9\n\n\n");
  const Dataset d = load_cifar10(dir_);
  EXPECT_EQ(d.class_names,
            (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}));
}

TEST_F(CifarTest, Cifar10MetaFileWithWrongCountIsDataError) {
  write_cifar10(dir_);
  write_text(dir_ / "batches.meta.txt", "a\nb\nc\n");
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "batches.meta.txt").string())) << msg;
  EXPECT_TRUE(contains(msg, "3 class names, expected 10")) << msg;
}

TEST_F(CifarTest, Cifar10AcceptsTheArchiveFolder) {
  const fs::path nested = dir_ / "cifar-10-batches-bin";
  write_cifar10(nested);
  write_text(nested / "batches.meta.txt", "n0\nn1\nn2\nn3\nn4\nn5\nn6\nn7\nn8\nn9\n");
  const Dataset d = load_cifar10(dir_);
  expect_cifar10(d);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names.front(), "n0");
  EXPECT_EQ(d.class_names.back(), "n9");
}

TEST_F(CifarTest, Cifar10MissingFileNamesItAndTheLayout) {
  write_cifar10(dir_);
  fs::remove(dir_ / "data_batch_3.bin");
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, "'" + (dir_ / "data_batch_3.bin").string() + "' does not exist"))
      << msg;
  for (const char* part :
       {"data_batch_1.bin", "data_batch_2.bin", "data_batch_4.bin", "data_batch_5.bin",
        "test_batch.bin", "batches.meta.txt", "cifar-10-batches-bin/", "cifar-10-binary.tar.gz"}) {
    EXPECT_TRUE(contains(msg, part)) << part << " not in: " << msg;
  }
  EXPECT_FALSE(contains(msg, "Python version")) << msg;
}

TEST_F(CifarTest, Cifar10NonRegularFilesAreNamedAsSuchAndNeverWaitedOn) {
  write_cifar10(dir_);
  fs::remove(dir_ / "data_batch_4.bin");
  ASSERT_EQ(::mkfifo((dir_ / "data_batch_4.bin").c_str(), 0644), 0);
  std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "data_batch_4.bin").string() + ": is a FIFO")) << msg;
  fs::remove(dir_ / "data_batch_4.bin");
  fs::create_symlink(dir_ / "data_batch_4.bin", dir_ / "data_batch_4.bin.loop");
  fs::create_symlink(dir_ / "data_batch_4.bin.loop", dir_ / "data_batch_4.bin");
  msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "data_batch_4.bin").string() + ": is a symbolic-link loop"))
      << msg;
  // The optional class-names file as a FIFO: refused at once, not waited on forever.
  write_cifar10(dir_ / "second");
  ASSERT_EQ(::mkfifo((dir_ / "second" / "batches.meta.txt").c_str(), 0644), 0);
  auto result = std::async(std::launch::async, [&] {
    return data_error([&] { load_cifar10(dir_ / "second"); });
  });
  if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ADD_FAILURE() << "loading blocked on the FIFO";
    std::_Exit(1);  // the blocked thread cannot be joined
  }
  msg = result.get();
  EXPECT_TRUE(contains(msg, "batches.meta.txt: is a FIFO")) << msg;
}

TEST_F(CifarTest, Cifar10MissingTestBatch) {
  write_cifar10(dir_);
  fs::remove(dir_ / "test_batch.bin");
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "test_batch.bin").string() + "' does not exist")) << msg;
}

TEST_F(CifarTest, Cifar10MissingRootNamesFirstFileAndLayout) {
  const fs::path root = dir_ / "absent";
  const std::string msg = data_error([&] { load_cifar10(root); });
  EXPECT_TRUE(contains(msg, (root / "data_batch_1.bin").string() + "' does not exist")) << msg;
  EXPECT_TRUE(contains(msg, "these files in '" + root.string() + "'")) << msg;
  EXPECT_TRUE(contains(msg, "test_batch.bin (test)")) << msg;
}

TEST_F(CifarTest, Cifar10MissingFileInArchiveFolderNamesThatFolder) {
  const fs::path nested = dir_ / "cifar-10-batches-bin";
  write_cifar10(nested);
  fs::remove(nested / "test_batch.bin");
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (nested / "test_batch.bin").string() + "' does not exist")) << msg;
}

TEST_F(CifarTest, Cifar10PythonVersionIsPointedOut) {
  fs::create_directories(dir_ / "cifar-10-batches-py");
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, "Found '" + (dir_ / "cifar-10-batches-py").string() + "'")) << msg;
  EXPECT_TRUE(contains(msg, "Python version")) << msg;
}

TEST_F(CifarTest, Cifar10TruncatedRecord) {
  write_cifar10(dir_);
  std::vector<uint8_t> bytes = record({1}, 11);
  append(bytes, record({2}, 12));
  bytes.resize(bytes.size() - 5);  // 2 * 3073 - 5 = 6141
  write_file(dir_ / "test_batch.bin", bytes);
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "test_batch.bin").string() +
                                ": 6141 bytes is not a whole number of 3073-byte records"))
      << msg;
}

TEST_F(CifarTest, Cifar10EmptyFile) {
  write_cifar10(dir_);
  write_file(dir_ / "data_batch_4.bin", {});
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "data_batch_4.bin").string() + ": the file is empty")) << msg;
}

TEST_F(CifarTest, Cifar10LabelOutOfRange) {
  write_cifar10(dir_);
  std::vector<uint8_t> bytes = record({9}, 11);  // 9 is fine
  append(bytes, record({10}, 12));
  write_file(dir_ / "test_batch.bin", bytes);
  const std::string msg = data_error([&] { load_cifar10(dir_); });
  EXPECT_TRUE(contains(msg, (dir_ / "test_batch.bin").string() +
                                ": record 1 (counting from 0) has label 10, expected < 10"))
      << msg;
}


// ---- CIFAR-100 -----------------------------------------------------------------------------

TEST_F(CifarTest, Cifar100FineLabels) {
  write_cifar100(dir_);
  const Dataset d = load_cifar100(dir_, "fine");
  expect_cifar100(d, true);
}

TEST_F(CifarTest, Cifar100CoarseLabels) {
  write_cifar100(dir_);
  const Dataset d = load_cifar100(dir_, "coarse");
  expect_cifar100(d, false);
}

TEST_F(CifarTest, Cifar100PixelPlanesFollowTheTwoLabelBytes) {
  std::vector<uint8_t> train = record({coarse100(0), fine100(0)}, 0);
  append(train, marked_record({4, 42}));
  write_file(dir_ / "train.bin", train);
  write_file(dir_ / "test.bin", record({coarse100(2), fine100(2)}, 2));
  const Dataset fine = load_cifar100(dir_, "fine");
  ASSERT_EQ(fine.size(), 3);
  expect_marked_image(fine, 1);
  EXPECT_EQ(wrong_pixels(fine, 0), 0);
  EXPECT_EQ(wrong_pixels(fine, 2), 0);
  EXPECT_EQ(fine.labels[1].item<int64_t>(), 42);
  EXPECT_EQ(load_cifar100(dir_, "coarse").labels[1].item<int64_t>(), 4);
}

TEST_F(CifarTest, Cifar100DefaultClassNames) {
  write_cifar100(dir_);
  const std::vector<std::string> fine = load_cifar100(dir_, "fine").class_names;
  ASSERT_EQ(fine.size(), 100u);
  EXPECT_EQ(fine.front(), "apple");
  EXPECT_EQ(fine[30], "dolphin");
  EXPECT_EQ(fine.back(), "worm");
  // The standard fine names are in alphabetical order, without duplicates.
  EXPECT_TRUE(std::is_sorted(fine.begin(), fine.end()));
  EXPECT_EQ(std::set<std::string>(fine.begin(), fine.end()).size(), 100u);
  const std::vector<std::string> coarse = load_cifar100(dir_, "coarse").class_names;
  ASSERT_EQ(coarse.size(), 20u);
  EXPECT_EQ(coarse.front(), "aquatic_mammals");
  EXPECT_EQ(coarse[14], "people");
  EXPECT_EQ(coarse.back(), "vehicles_2");
  EXPECT_TRUE(std::is_sorted(coarse.begin(), coarse.end()));
  EXPECT_EQ(std::set<std::string>(coarse.begin(), coarse.end()).size(), 20u);
}

TEST_F(CifarTest, Cifar100ClassNamesFromFiles) {
  write_cifar100(dir_);
  std::string fine_text;
  for (int i = 0; i < 100; ++i) fine_text += "fine" + std::to_string(i) + "\n";
  std::string coarse_text;
  for (int i = 0; i < 20; ++i) coarse_text += "coarse" + std::to_string(i) + "\n";
  write_text(dir_ / "fine_label_names.txt", fine_text);
  write_text(dir_ / "coarse_label_names.txt", coarse_text);
  const Dataset fine = load_cifar100(dir_, "fine");
  ASSERT_EQ(fine.class_names.size(), 100u);
  EXPECT_EQ(fine.class_names[0], "fine0");
  EXPECT_EQ(fine.class_names[99], "fine99");
  const Dataset coarse = load_cifar100(dir_, "coarse");
  ASSERT_EQ(coarse.class_names.size(), 20u);
  EXPECT_EQ(coarse.class_names[0], "coarse0");
  EXPECT_EQ(coarse.class_names[19], "coarse19");
}

TEST_F(CifarTest, Cifar100NamesFileWithWrongCountIsDataError) {
  write_cifar100(dir_);
  write_text(dir_ / "coarse_label_names.txt", "only\none\n");
  const std::string msg = data_error([&] { load_cifar100(dir_, "coarse"); });
  EXPECT_TRUE(
      contains(msg, (dir_ / "coarse_label_names.txt").string() + ": 2 class names, expected 20"))
      << msg;
  // The fine labels do not read the coarse file.
  EXPECT_EQ(load_cifar100(dir_, "fine").class_names.size(), 100u);
}

TEST_F(CifarTest, Cifar100AcceptsTheArchiveFolder) {
  write_cifar100(dir_ / "cifar-100-binary");
  expect_cifar100(load_cifar100(dir_, "fine"), true);
  expect_cifar100(load_cifar100(dir_, "coarse"), false);
}

TEST_F(CifarTest, Cifar100MissingFileNamesItAndTheLayout) {
  write_cifar100(dir_);
  fs::remove(dir_ / "test.bin");
  const std::string msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, "'" + (dir_ / "test.bin").string() + "' does not exist")) << msg;
  for (const char* part :
       {"train.bin (train)", "test.bin (test)", "fine_label_names.txt", "coarse_label_names.txt",
        "cifar-100-binary/", "cifar-100-binary.tar.gz"}) {
    EXPECT_TRUE(contains(msg, part)) << part << " not in: " << msg;
  }
}

TEST_F(CifarTest, Cifar100MissingRoot) {
  const fs::path root = dir_ / "absent";
  const std::string msg = data_error([&] { load_cifar100(root, "coarse"); });
  EXPECT_TRUE(contains(msg, (root / "train.bin").string() + "' does not exist")) << msg;
  EXPECT_TRUE(contains(msg, "these files in '" + root.string() + "'")) << msg;
}

TEST_F(CifarTest, Cifar100PythonVersionIsPointedOut) {
  fs::create_directories(dir_ / "cifar-100-python");
  const std::string msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, "Found '" + (dir_ / "cifar-100-python").string() + "'")) << msg;
  EXPECT_TRUE(contains(msg, "cifar-100-binary.tar.gz instead")) << msg;
}

TEST_F(CifarTest, Cifar100TruncatedRecord) {
  write_cifar100(dir_);
  std::vector<uint8_t> bytes = record({1, 2}, 0);
  bytes.push_back(0);  // 3075 bytes
  write_file(dir_ / "train.bin", bytes);
  const std::string msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, (dir_ / "train.bin").string() +
                                ": 3075 bytes is not a whole number of 3074-byte records"))
      << msg;
}

TEST_F(CifarTest, Cifar100CifarTenFileIsRejected) {
  // A CIFAR-10 batch of 2 records (6146 bytes) put where CIFAR-100 is expected.
  write_cifar100(dir_);
  std::vector<uint8_t> bytes = record({1}, 0);
  append(bytes, record({2}, 1));
  write_file(dir_ / "test.bin", bytes);
  const std::string msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, "6146 bytes is not a whole number of 3074-byte records")) << msg;
}

TEST_F(CifarTest, Cifar100FineLabelOutOfRange) {
  write_cifar100(dir_);
  std::vector<uint8_t> bytes;
  append(bytes, record({19, 99}, 0));
  append(bytes, record({0, 0}, 1));
  append(bytes, record({3, 100}, 2));
  write_file(dir_ / "train.bin", bytes);
  const std::string expected = (dir_ / "train.bin").string() +
                               ": record 2 (counting from 0) has fine label 100, expected < 100";
  std::string msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, expected)) << msg;
  // A corrupt record is an error whichever labels are used.
  msg = data_error([&] { load_cifar100(dir_, "coarse"); });
  EXPECT_TRUE(contains(msg, expected)) << msg;
}

TEST_F(CifarTest, Cifar100CoarseLabelOutOfRange) {
  write_cifar100(dir_);
  std::vector<uint8_t> bytes = record({0, 5}, 0);
  append(bytes, record({20, 5}, 1));
  write_file(dir_ / "test.bin", bytes);
  const std::string expected = (dir_ / "test.bin").string() +
                               ": record 1 (counting from 0) has coarse label 20, expected < 20";
  std::string msg = data_error([&] { load_cifar100(dir_, "coarse"); });
  EXPECT_TRUE(contains(msg, expected)) << msg;
  msg = data_error([&] { load_cifar100(dir_, "fine"); });
  EXPECT_TRUE(contains(msg, expected)) << msg;
}

TEST_F(CifarTest, Cifar100UnknownLabelsIsConfigError) {
  write_cifar100(dir_);
  try {
    load_cifar100(dir_, "medium");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "\"medium\"")) << msg;
    EXPECT_TRUE(contains(msg, "cifar100_labels")) << msg;
  }
}

}  // namespace
}  // namespace moedil::data
