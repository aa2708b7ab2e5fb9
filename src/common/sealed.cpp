#include "moedil/common/sealed.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <limits>

#include "moedil/common/error.h"

namespace moedil {
namespace {

constexpr int kSealVersion = 1;

std::string hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08" PRIx32, v);
  return buf;
}

/// The next '\n'-terminated line of `bytes` from `*pos` (without the newline); nullopt when
/// there is none within `limit` bytes.
std::optional<std::string_view> next_line(std::string_view bytes, std::size_t* pos,
                                          std::size_t limit = 256) {
  const std::size_t end = bytes.find('\n', *pos);
  if (end == std::string_view::npos || end - *pos > limit) return std::nullopt;
  const std::string_view line = bytes.substr(*pos, end - *pos);
  *pos = end + 1;
  return line;
}

}  // namespace

uint32_t crc32_of(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(bytes.data());
  std::size_t left = bytes.size();
  while (left > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    left -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::string sealed_header(std::string_view magic, std::string_view payload) {
  return std::string(magic) + " " + std::to_string(kSealVersion) + "\ncrc32 " +
         hex8(crc32_of(payload)) + " size " + std::to_string(payload.size()) + "\n";
}

std::optional<std::string_view> unseal(std::string_view bytes, std::string_view magic,
                                       const std::string& where) {
  const std::string prefix = std::string(magic) + " ";
  if (bytes.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::size_t pos = 0;
  const auto first = next_line(bytes, &pos);
  const auto second = first ? next_line(bytes, &pos) : std::nullopt;
  if (!second) throw DataError(where + ": damaged (its " + std::string(magic) + " header is cut off)");
  if (*first != prefix + std::to_string(kSealVersion)) {
    throw DataError(where + ": written in a sealed format this moedil does not know ('" +
                    std::string(first->substr(0, 64)) + "')");
  }
  unsigned crc = 0;
  unsigned long long size = 0;
  char tail = 0;
  const std::string fields(*second);
  if (std::sscanf(fields.c_str(), "crc32 %8x size %llu%c", &crc, &size, &tail) != 2) {
    throw DataError(where + ": damaged (malformed checksum line '" + fields.substr(0, 64) + "')");
  }
  const std::string_view payload = bytes.substr(pos);
  if (payload.size() != size) {
    throw DataError(where + ": damaged (" + std::to_string(payload.size()) +
                    " bytes of data where the header records " + std::to_string(size) +
                    "; truncated or appended to)");
  }
  const uint32_t actual = crc32_of(payload);
  if (actual != crc) {
    throw DataError(where + ": damaged (CRC-32 of its data is " + hex8(actual) +
                    ", the header records " + hex8(static_cast<uint32_t>(crc)) +
                    "); it is refused rather than loaded with wrong numbers");
  }
  return payload;
}

}  // namespace moedil
