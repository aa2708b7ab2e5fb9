#include "moedil/io/tensorboard.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace moedil::io {
namespace {

// An independent reader of what TensorBoard reads: bit-by-bit CRC-32C, TFRecord framing and a
// generic protobuf field walker, written from the formats' descriptions (not from the writer).

uint32_t bitwise_crc32c(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (const char ch : data) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

uint64_t read_le(const std::string& s, std::size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(uint8_t(s.at(at + i))) << (8 * i);
  return v;
}

/// The payloads of the TFRecords in `file`, each checked against both its CRCs.
std::vector<std::string> read_records(const std::string& file) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < file.size()) {
    const std::string length_bytes = file.substr(at, 8);
    const uint64_t length = read_le(file, at, 8);
    EXPECT_EQ(read_le(file, at + 8, 4), masked(bitwise_crc32c(length_bytes))) << "at " << at;
    const std::string payload = file.substr(at + 12, length);
    EXPECT_EQ(read_le(file, at + 12 + length, 4), masked(bitwise_crc32c(payload)));
    out.push_back(payload);
    at += 12 + length + 4;
  }
  EXPECT_EQ(at, file.size()) << "a torn record at the end";
  return out;
}

struct Field {
  int wire = 0;
  uint64_t number = 0;  ///< varint, or the bits of a fixed 32/64-bit value
  std::string bytes;    ///< length-delimited
};

uint64_t read_varint(const std::string& s, std::size_t& at) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const auto b = uint8_t(s.at(at++));
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
}

/// Field number -> its occurrences, in order.
std::multimap<int, Field> parse(const std::string& message) {
  std::multimap<int, Field> out;
  std::size_t at = 0;
  while (at < message.size()) {
    const uint64_t key = read_varint(message, at);
    Field f;
    f.wire = int(key & 7);
    if (f.wire == 0) {
      f.number = read_varint(message, at);
    } else if (f.wire == 1) {
      f.number = read_le(message, at, 8);
      at += 8;
    } else if (f.wire == 5) {
      f.number = read_le(message, at, 4);
      at += 4;
    } else if (f.wire == 2) {
      const uint64_t n = read_varint(message, at);
      f.bytes = message.substr(at, n);
      at += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      break;
    }
    out.emplace(int(key >> 3), f);
  }
  return out;
}

double as_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

float as_float(uint64_t bits) {
  const auto b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s.push_back(static_cast<char>(v));
  return s;
}

TEST(TensorBoard, Crc32cCheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the CRC-32C check value
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("The quick brown fox"), bitwise_crc32c("The quick brown fox"));
  EXPECT_EQ(crc32c("6789", crc32c("12345")), 0xe3069283u) << "continues a CRC";
  EXPECT_EQ(masked_crc32c(""), 0xa282ead8u);
}

TEST(TensorBoard, EventsAreTheProtobufBytesByHand) {
  // Event{wall_time 1.5, file_version "brain.Event:2"}: key 0x09 + 8 bytes of 1.5, key 0x1a,
  // length 13, the text.
  EXPECT_EQ(version_event(1.5),
            bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x1a, 13}) + "brain.Event:2");
  // Event{wall_time 1.5, step 300, summary{value{tag "a", simple_value 0.5}}}: step 300 is the
  // varint ac 02; Value = 0a 01 'a' 15 <0.5f>, 8 bytes; Summary = 0a 08 <Value>, 10 bytes.
  EXPECT_EQ(scalars_event(1.5, 300, {{"a", 0.5f}}),
            bytes({0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x10, 0xac, 0x02, 0x2a, 10, 0x0a, 8, 0x0a,
                   1, 'a', 0x15, 0, 0, 0, 0x3f}));
}

TEST(TensorBoard, RecordFraming) {
  const std::string payload = "hello";
  const std::string record = tfrecord(payload);
  ASSERT_EQ(record.size(), 8u + 4u + payload.size() + 4u);
  const auto records = read_records(record);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], payload);
}

TEST(TensorBoard, WriterAppendsAndFlushesEachEpoch) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("moedil-tb-test-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  TensorBoardWriter writer(dir / "tensorboard");
  EXPECT_EQ(writer.path().parent_path(), dir / "tensorboard");
  EXPECT_EQ(writer.path().filename().string().rfind("events.out.tfevents.", 0), 0u);
  writer.add_scalars(1, {{"train/loss", 1.25f}, {"eval/acc/rot0", 0.5f}});
  const auto size_after_one = std::filesystem::file_size(writer.path());
  writer.add_scalars(2, {{"train/loss", 0.75f}});
  EXPECT_GT(std::filesystem::file_size(writer.path()), size_after_one) << "flushed each time";

  std::ifstream in(writer.path(), std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto records = read_records(file);
  ASSERT_EQ(records.size(), 3u);
  const auto first = parse(records[0]);
  ASSERT_EQ(first.count(3), 1u);
  EXPECT_EQ(first.find(3)->second.bytes, "brain.Event:2");
  EXPECT_GT(as_double(first.find(1)->second.number), 1.7e9) << "wall time in unix seconds";

  const auto second = parse(records[1]);
  EXPECT_EQ(second.find(2)->second.number, 1u) << "step";
  const auto summary = parse(second.find(5)->second.bytes);
  ASSERT_EQ(summary.count(1), 2u);
  std::map<std::string, float> values;
  for (auto [it, end] = summary.equal_range(1); it != end; ++it) {
    const auto value = parse(it->second.bytes);
    values[value.find(1)->second.bytes] = as_float(value.find(2)->second.number);
  }
  EXPECT_EQ(values, (std::map<std::string, float>{{"train/loss", 1.25f}, {"eval/acc/rot0", 0.5f}}));
  EXPECT_EQ(parse(records[2]).find(2)->second.number, 2u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moedil::io
