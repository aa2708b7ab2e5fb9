#pragma once
// Sealed files: a payload behind a one-line-per-field text header that records its length and
// CRC-32, so that a file damaged on disk (flipped bytes, truncation, a partial copy) is refused
// instead of silently read. moedil's checkpoint.pt is sealed; its payload is the LibTorch
// archive:
//   moedil-checkpoint 1\n
//   crc32 1a2b3c4d size 123456\n
//   <payload: size bytes>
// (to read the archive elsewhere, skip the two header lines).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moedil {

/// The first word of a sealed checkpoint.pt.
inline constexpr const char* kCheckpointSeal = "moedil-checkpoint";

/// CRC-32 (zlib's polynomial) of `bytes`, of any length.
uint32_t crc32_of(std::string_view bytes);

/// The header that seals `payload` as a file of kind `magic` (a word without spaces).
std::string sealed_header(std::string_view magic, std::string_view payload);

/// The payload of `bytes` sealed as `magic`, after checking its length and CRC-32; nullopt when
/// `bytes` does not start with "<magic> " (an unsealed file). Throws DataError naming `where`
/// when the header is malformed, the size differs or the checksum does not match.
std::optional<std::string_view> unseal(std::string_view bytes, std::string_view magic,
                                       const std::string& where);

}  // namespace moedil
