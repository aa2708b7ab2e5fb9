#pragma once
// Headless Chromium for the report tests: the browser, or a skip that says what was not checked.
#include <cstdint>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "moedil/report/png_render.h"
#include "moedil/report/vega_runtime.h"

namespace moedil::report::testing {

/// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

inline std::string slurp_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A stand-in browser: a shell script running `body`, made executable.
inline std::filesystem::path fake_browser(const std::filesystem::path& dir, const std::string& body) {
  const std::filesystem::path p = dir / "fake-chromium";
  std::ofstream(p, std::ios::binary) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(p, std::filesystem::perms::owner_all);
  return p;
}

/// Width and height from a PNG's IHDR chunk, {0, 0} when `bytes` is not a PNG.
inline std::pair<uint32_t, uint32_t> png_size(const std::string& bytes) {
  static const std::string sig("\x89PNG\r\n\x1a\n", 8);
  if (bytes.size() < 24 || bytes.compare(0, 8, sig) != 0 || bytes.compare(12, 4, "IHDR") != 0) return {0, 0};
  auto be32 = [&](std::size_t at) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
  };
  return {be32(16), be32(20)};
}

}  // namespace moedil::report::testing

/// Skips the test (loudly) unless Chromium and Debian's libjs-vega are installed; sets
/// `chromium` and `vega`.
#define MOEDIL_REQUIRE_BROWSER(chromium, vega)                                                   \
  const std::optional<std::filesystem::path> chromium = ::moedil::report::find_chromium();      \
  const ::moedil::report::VegaRuntime vega = ::moedil::report::load_vega_runtime();              \
  if (!chromium) {                                                                               \
    GTEST_SKIP() << "SKIPPED: chromium not installed (apt-get install chromium, or set "        \
                    "MOEDIL_CHROMIUM); the report was NOT checked in a browser";                 \
  }                                                                                              \
  if (!vega.ok()) GTEST_SKIP() << "SKIPPED: " << vega.missing << "; NOT checked in a browser"
