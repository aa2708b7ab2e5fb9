#include "moedil/common/sealed.h"

#include <gtest/gtest.h>

#include "moedil/common/error.h"

namespace moedil {
namespace {

std::string sealed(const std::string& payload) {
  return sealed_header("moedil-test", payload) + payload;
}

std::string unseal_error(const std::string& bytes) {
  try {
    unseal(bytes, "moedil-test", "file.bin");
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(Sealed, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32_of("123456789"), 0xcbf43926u);  // the CRC-32 catalogue's check value
  EXPECT_EQ(crc32_of(""), 0u);
}

TEST(Sealed, HeaderRecordsLengthAndChecksum) {
  EXPECT_EQ(sealed_header("moedil-test", "123456789"), "moedil-test 1\ncrc32 cbf43926 size 9\n");
}

TEST(Sealed, RoundTripGivesThePayloadBack) {
  const std::string payload("PK\0\x01\xff binary\n\nbytes", 20);
  const auto back = unseal(sealed(payload), "moedil-test", "file.bin");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(std::string(*back), payload);
  EXPECT_EQ(std::string(*unseal(sealed(""), "moedil-test", "f")), "");
}

TEST(Sealed, UnsealedBytesAreNotClaimed) {
  EXPECT_FALSE(unseal("PK\x03\x04 a zip archive", "moedil-test", "f").has_value());
  EXPECT_FALSE(unseal("moedil-other 1\n", "moedil-test", "f").has_value());
}

TEST(Sealed, EveryFlippedPayloadByteIsRefused) {
  const std::string payload = "tensor data: 0123456789abcdef";
  const std::string good = sealed(payload);
  const std::size_t start = good.size() - payload.size();
  for (std::size_t i = start; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    const std::string error = unseal_error(bad);
    EXPECT_NE(error.find("file.bin: damaged (CRC-32"), std::string::npos) << i << ": " << error;
  }
}

TEST(Sealed, TruncatedAppendedOrMalformedFilesAreRefused) {
  const std::string good = sealed("payload bytes");
  EXPECT_NE(unseal_error(good.substr(0, good.size() - 1)).find("bytes of data where the header records 13"),
            std::string::npos);
  EXPECT_NE(unseal_error(good + "x").find("truncated or appended"), std::string::npos);
  EXPECT_NE(unseal_error("moedil-test 1\n").find("header is cut off"), std::string::npos);
  EXPECT_NE(unseal_error("moedil-test 9\ncrc32 00000000 size 0\n").find("does not know"),
            std::string::npos);
  EXPECT_NE(unseal_error("moedil-test 1\ncrc32 zz size 0\n").find("malformed checksum line"),
            std::string::npos);
  EXPECT_NE(unseal_error("moedil-test 1\ncrc32 00000000 size 0 extra\n").find("malformed"),
            std::string::npos);
}

}  // namespace
}  // namespace moedil
