#pragma once
// Text from the user (keys, values, file names) as it may be echoed in a message: bounded in
// length and free of bytes a terminal or a JSON writer would choke on.
#include <cstddef>
#include <string>
#include <string_view>

namespace moedil {

/// Longest piece of user text a message echoes by default.
inline constexpr std::size_t kExcerptChars = 80;

/// `text` for a message: control characters and bytes that are not valid UTF-8 are written as
/// \xHH (so the result is always valid, printable UTF-8), and text longer than `max_bytes`
/// bytes is cut to its first `max_bytes` bytes (at a character boundary) followed by
/// "... (N bytes)" with N the full length.
std::string excerpt(std::string_view text, std::size_t max_bytes = kExcerptChars);

/// Byte offset of the first byte of `text` that does not start a well-formed UTF-8 sequence
/// (overlong forms, surrogates and code points above U+10FFFF are not well formed), or
/// std::string_view::npos when all of it is valid UTF-8.
std::size_t invalid_utf8_offset(std::string_view text);

}  // namespace moedil
