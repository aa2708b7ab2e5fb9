#pragma once
// ASCII text helpers for names read from configs and file systems.
#include <string>

namespace moedil {

/// `s` with ASCII letters in lower case (other bytes, UTF-8 included, unchanged).
std::string ascii_lower(std::string s);

}  // namespace moedil
