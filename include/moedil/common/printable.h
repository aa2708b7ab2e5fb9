#pragma once
// Text from files (run.json strings, file names, error messages quoting them) made safe to
// print on a terminal: control characters become visible escapes, so a string cannot move the
// cursor, recolour, retitle or clear the terminal (ESC sequences), hide itself (CR, BS) or
// reorder what follows (bidirectional overrides).
#include <string>
#include <string_view>

namespace moedil {

/// `s` with every control character replaced by a visible escape: C0 (U+0000..U+001F, as
/// "\n", "\t", "\r" or "\x1b" style), DEL ("\x7f"), C1 (U+0080..U+009F, "\u009b" style), the
/// line and paragraph separators U+2028/U+2029 and the bidirectional embeddings, overrides and
/// isolates (U+202A..U+202E, U+2066..U+2069). Bytes that are not valid UTF-8 become "\xNN";
/// other valid UTF-8 text is kept as it is.
std::string printable(std::string_view s);

}  // namespace moedil
