#include "moedil/io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

TEST(Npy, HeaderIsNumpysVersion1LayoutByHand) {
  const std::string h = npy_header(NpyType::Float32, {2, 3});
  // The dict is 59 characters; 10 + 59 + 1 = 70, padded with 58 spaces to 128 bytes.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_EQ(dict.size(), 59u);
  ASSERT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(h[8]), 118u);  // header length 128 - 10, little-endian
  EXPECT_EQ(static_cast<unsigned char>(h[9]), 0u);
  EXPECT_EQ(h.substr(10, dict.size()), dict);
  EXPECT_EQ(h.substr(10 + dict.size(), 128 - 10 - dict.size() - 1), std::string(58, ' '));
  EXPECT_EQ(h.back(), '\n');
}

TEST(Npy, ShapesAndTypesAreSpelledAsPythonTuples) {
  EXPECT_NE(npy_header(NpyType::Int64, {5}).find("'descr': '<i8'"), std::string::npos);
  EXPECT_NE(npy_header(NpyType::Int64, {5}).find("'shape': (5,), }"), std::string::npos);
  EXPECT_NE(npy_header(NpyType::UInt8, {}).find("'descr': '|u1'"), std::string::npos);
  EXPECT_NE(npy_header(NpyType::UInt8, {}).find("'shape': (), }"), std::string::npos);
  EXPECT_NE(npy_header(NpyType::Float32, {0, 10}).find("'shape': (0, 10), }"), std::string::npos);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{}, {1}, {123456789, 3, 32, 32}}) {
    EXPECT_EQ(npy_header(NpyType::Float32, shape).size() % 64, 0u);
  }
}

TEST(Npy, WriteStoresHeaderThenTheRawLittleEndianData) {
  const fs::path path = fs::temp_directory_path() /
                        ("moedil_npy_test_" + std::to_string(::getpid()) + "_" +
                         std::to_string(std::random_device{}()) + ".npy");
  const std::vector<int64_t> values{1, -2, 3};
  write_npy(path, NpyType::Int64, {3}, values.data(), values.size() * sizeof(int64_t));
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  const std::string bytes = s.str();
  fs::remove(path);
  const std::string header = npy_header(NpyType::Int64, {3});
  ASSERT_EQ(bytes.size(), header.size() + 24);
  EXPECT_EQ(bytes.substr(0, header.size()), header);
  const unsigned char minus_two[8] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(std::memcmp(bytes.data() + header.size() + 8, minus_two, 8), 0);
  EXPECT_THROW(write_npy(path, NpyType::Int64, {4}, values.data(), 24), std::invalid_argument);
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace moedil::io
