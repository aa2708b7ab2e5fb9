#include "moedil/common/ascii.h"

#include <cctype>

namespace moedil {

std::string ascii_lower(std::string s) {
  for (char& ch : s) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 128) ch = static_cast<char>(std::tolower(byte));
  }
  return s;
}

}  // namespace moedil
