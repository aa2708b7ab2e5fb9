#include "moedil/data/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "moedil/common/error.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_idx_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static IdxArray make_array(std::vector<int64_t> dims) {
    IdxArray a;
    a.dims = std::move(dims);
    size_t n = 1;
    for (int64_t d : a.dims) n *= static_cast<size_t>(d);
    a.data.resize(n);
    for (size_t i = 0; i < n; ++i) a.data[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    return a;
  }

  static void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }

  static void write_gz_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
    gzFile gz = gzopen(p.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    ASSERT_EQ(gzclose(gz), Z_OK);
  }

  static std::vector<uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  /// Expects read_idx(p) to throw DataError whose message contains the path and `needle`.
  static void expect_data_error(const fs::path& p, const std::string& needle) {
    try {
      read_idx(p);
      FAIL() << "expected DataError for " << p;
    } catch (const DataError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << "missing '" << needle << "' in: " << msg;
    }
  }

  fs::path dir_;
};

TEST_F(IdxTest, RoundTripLabelsRaw) {
  const IdxArray a = make_array({100});
  write_idx(dir_ / "labels", a, false);
  const std::vector<uint8_t> bytes = read_bytes(dir_ / "labels");
  ASSERT_EQ(bytes.size(), 8u + 100u);
  EXPECT_EQ((std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8)),
            (std::vector<uint8_t>{0, 0, 0x08, 1, 0, 0, 0, 100}));
  const IdxArray b = read_idx(dir_ / "labels");
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
}

TEST_F(IdxTest, RoundTripLabelsGzip) {
  const IdxArray a = make_array({1000});
  write_idx(dir_ / "labels.gz", a, true);
  const std::vector<uint8_t> bytes = read_bytes(dir_ / "labels.gz");
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(bytes[0], 0x1f);
  EXPECT_EQ(bytes[1], 0x8b);
  const IdxArray b = read_idx(dir_ / "labels.gz");
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
}

TEST_F(IdxTest, RoundTripImagesRawAndGzip) {
  const IdxArray a = make_array({7, 28, 28});
  for (bool gzip : {false, true}) {
    const fs::path p = dir_ / (gzip ? "images.gz" : "images");
    write_idx(p, a, gzip);
    const IdxArray b = read_idx(p);
    EXPECT_EQ(b.dims, (std::vector<int64_t>{7, 28, 28}));
    EXPECT_EQ(b.data, a.data);
  }
}

TEST_F(IdxTest, RoundTripFourDimsAndEmpty) {
  const IdxArray a = make_array({2, 3, 4, 5});
  write_idx(dir_ / "four", a, true);
  EXPECT_EQ(read_idx(dir_ / "four").data, a.data);
  const IdxArray e = make_array({0, 28, 28});
  write_idx(dir_ / "empty", e, false);
  const IdxArray r = read_idx(dir_ / "empty");
  EXPECT_EQ(r.dims, (std::vector<int64_t>{0, 28, 28}));
  EXPECT_TRUE(r.data.empty());
}

TEST_F(IdxTest, LargeGzipReadInChunks) {
  // 3 MiB: many zlib input buffers and several trailing-byte probe reads.
  const IdxArray a = make_array({4000, 28, 28});
  write_idx(dir_ / "big.gz", a, true);
  EXPECT_EQ(read_idx(dir_ / "big.gz").data, a.data);
}

TEST_F(IdxTest, OneMemberGzipInflatedWholeWhenBuiltWithLibdeflate) {
  const IdxArray a = make_array({300, 28, 28});
  write_idx(dir_ / "images.gz", a, true);
  write_idx(dir_ / "images", a, false);
  IdxInflater used = IdxInflater::raw;
  const IdxArray b = read_idx(dir_ / "images.gz", &used);
  EXPECT_EQ(used, idx_whole_file_inflater_available() ? IdxInflater::whole_file
                                                      : IdxInflater::zlib_stream);
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
  used = IdxInflater::whole_file;
  EXPECT_EQ(read_idx(dir_ / "images", &used).data, a.data);
  EXPECT_EQ(used, IdxInflater::raw);
}

TEST_F(IdxTest, TwoMemberGzipReadByTheZlibStream) {
  // `cat a.gz b.gz`: a valid gzip file (gunzip and zlib read both members) whose trailer sizes
  // only the second member, which the whole-file inflater must not take for the whole.
  const IdxArray a = make_array({50, 28, 28});
  std::vector<uint8_t> bytes(16);
  bytes[2] = 0x08;
  bytes[3] = 3;
  bytes[7] = 50;
  bytes[11] = 28;
  bytes[15] = 28;
  bytes.insert(bytes.end(), a.data.begin(), a.data.end());
  const size_t half = bytes.size() / 2;
  write_gz_bytes(dir_ / "first.gz", {bytes.begin(), bytes.begin() + half});
  write_gz_bytes(dir_ / "second.gz", {bytes.begin() + half, bytes.end()});
  std::vector<uint8_t> both = read_bytes(dir_ / "first.gz");
  const std::vector<uint8_t> second = read_bytes(dir_ / "second.gz");
  both.insert(both.end(), second.begin(), second.end());
  write_bytes(dir_ / "both.gz", both);
  IdxInflater used = IdxInflater::raw;
  const IdxArray b = read_idx(dir_ / "both.gz", &used);
  EXPECT_EQ(used, IdxInflater::zlib_stream);
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.data, a.data);
}

TEST_F(IdxTest, WrongTrailerSizeIsRefusedNotTrusted) {
  // A trailer that claims 1 byte more than the stream holds: neither inflater may accept it.
  write_idx(dir_ / "full.gz", make_array({1000}), true);
  std::vector<uint8_t> bytes = read_bytes(dir_ / "full.gz");
  ++bytes[bytes.size() - 4];
  write_bytes(dir_ / "claims.gz", bytes);
  expect_data_error(dir_ / "claims.gz", "gzip");
}

TEST_F(IdxTest, BadMagicWrongTypeCode) {
  // 0x00000D03: float IDX, 3 dims.
  write_bytes(dir_ / "float", {0, 0, 0x0D, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  expect_data_error(dir_ / "float", "bad IDX magic 0x00000d03 expected type 0x08");
}

TEST_F(IdxTest, BadMagicNonZeroLeadingBytes) {
  write_bytes(dir_ / "junk", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  expect_data_error(dir_ / "junk", "bad IDX magic 0x68656c6c");
  write_gz_bytes(dir_ / "junk.gz", {1, 2, 8, 1, 0, 0, 0, 0});
  expect_data_error(dir_ / "junk.gz", "bad IDX magic 0x01020801");
}

TEST_F(IdxTest, BadNdim) {
  write_bytes(dir_ / "ndim0", {0, 0, 8, 0, 1, 2, 3});
  expect_data_error(dir_ / "ndim0", "ndim 0 is not in 1..4");
  write_bytes(dir_ / "ndim5", {0, 0, 8, 5});
  expect_data_error(dir_ / "ndim5", "ndim 5 is not in 1..4");
}

TEST_F(IdxTest, NegativeDim) {
  write_bytes(dir_ / "neg", {0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff});
  expect_data_error(dir_ / "neg", "is negative");
}

TEST_F(IdxTest, TruncatedHeader) {
  write_bytes(dir_ / "empty_file", {});
  expect_data_error(dir_ / "empty_file", "truncated");
  write_bytes(dir_ / "short_dims", {0, 0, 8, 3, 0, 0, 0, 10, 0, 0});
  expect_data_error(dir_ / "short_dims", "truncated: IDX header with 3 dims needs 16 bytes");
}

TEST_F(IdxTest, TruncatedDataRawAndGzip) {
  IdxArray a = make_array({10, 28, 28});
  write_idx(dir_ / "full", a, false);
  std::vector<uint8_t> bytes = read_bytes(dir_ / "full");
  bytes.resize(16 + 1000);
  write_bytes(dir_ / "cut", bytes);
  const std::string expected = "truncated: expected 7840 data bytes (dims 10x28x28), got 1000";
  expect_data_error(dir_ / "cut", expected);
  write_gz_bytes(dir_ / "cut.gz", bytes);
  expect_data_error(dir_ / "cut.gz", expected);
}

TEST_F(IdxTest, TruncatedGzipStream) {
  write_idx(dir_ / "full.gz", make_array({10000}), true);
  std::vector<uint8_t> bytes = read_bytes(dir_ / "full.gz");
  bytes.resize(bytes.size() / 2);
  write_bytes(dir_ / "half.gz", bytes);
  expect_data_error(dir_ / "half.gz", "gzip stream is truncated (unexpected end of file)");
}

TEST_F(IdxTest, CorruptGzipStream) {
  write_idx(dir_ / "full.gz", make_array({10000}), true);
  std::vector<uint8_t> bytes = read_bytes(dir_ / "full.gz");
  for (size_t i = 12; i < bytes.size() - 8; ++i) bytes[i] = static_cast<uint8_t>(0xff - bytes[i]);
  write_bytes(dir_ / "bad.gz", bytes);
  expect_data_error(dir_ / "bad.gz", "gzip");
}

TEST_F(IdxTest, TrailingBytesRawAndGzip) {
  write_idx(dir_ / "full", make_array({10}), false);
  std::vector<uint8_t> bytes = read_bytes(dir_ / "full");
  bytes.push_back(1);
  bytes.push_back(2);
  bytes.push_back(3);
  write_bytes(dir_ / "long", bytes);
  expect_data_error(dir_ / "long", "3 trailing bytes after the 10 data bytes");
  write_gz_bytes(dir_ / "long.gz", bytes);
  expect_data_error(dir_ / "long.gz", "3 trailing bytes after the 10 data bytes");
}

TEST_F(IdxTest, MissingFile) {
  expect_data_error(dir_ / "train-images-idx3-ubyte.gz", "file does not exist");
}

TEST_F(IdxTest, DirectoryIsNotAFile) {
  fs::create_directories(dir_ / "sub");
  expect_data_error(dir_ / "sub", "directory");
}

TEST_F(IdxTest, WriteRejectsInconsistentArrays) {
  IdxArray a = make_array({3, 4});
  a.data.pop_back();
  EXPECT_THROW(write_idx(dir_ / "x", a, false), DataError);
  IdxArray none;
  EXPECT_THROW(write_idx(dir_ / "x", none, false), DataError);
  IdxArray five = make_array({1, 1, 1, 1, 1});
  EXPECT_THROW(write_idx(dir_ / "x", five, true), DataError);
  IdxArray neg;
  neg.dims = {-1};
  EXPECT_THROW(write_idx(dir_ / "x", neg, false), DataError);
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(IdxTest, WriteToUnwritablePathThrowsIoError) {
  write_idx(dir_ / "file", make_array({1}), false);
  EXPECT_THROW(write_idx(dir_ / "file" / "child", make_array({1}), false), IoError);
  EXPECT_THROW(write_idx(dir_ / "file" / "child.gz", make_array({1}), true), IoError);
}

TEST(IdxRealDataTest, FashionMnistTestLabels) {
  const fs::path p = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(p)) GTEST_SKIP() << p << " not found; real-data check skipped";
  const IdxArray a = read_idx(p);
  ASSERT_EQ(a.dims, (std::vector<int64_t>{10000}));
  ASSERT_EQ(a.data.size(), 10000u);
  std::array<int, 10> counts{};
  for (uint8_t v : a.data) {
    ASSERT_LT(v, 10);
    ++counts[v];
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(counts[c], 1000) << "class " << c;
}

TEST(IdxRealDataTest, FashionMnistTrainImagesLoadFast) {
  const fs::path p = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  if (!fs::exists(p)) GTEST_SKIP() << p << " not found; real-data check skipped";
  const auto start = std::chrono::steady_clock::now();
  IdxInflater used = IdxInflater::raw;
  const IdxArray a = read_idx(p, &used);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(used, idx_whole_file_inflater_available() ? IdxInflater::whole_file
                                                      : IdxInflater::zlib_stream);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(a.data.size(), 47040000u);
  EXPECT_LT(secs, 5.0) << "generous bound for slow or sanitized builds";
  RecordProperty("load_seconds", std::to_string(secs));
}

}  // namespace
}  // namespace moedil::data
