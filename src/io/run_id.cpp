#include "moedil/io/run_id.h"

#include <cstdio>
#include <ctime>
#include <random>
#include <system_error>

#include "moedil/common/error.h"

namespace moedil::io {
namespace {

namespace fs = std::filesystem;

void check_name_part(const fs::path& parent, std::string_view what, std::string_view value) {
  if (value.empty()) {
    throw IoError(parent.string() + ": cannot create run directory: empty " + std::string(what) +
                  " name");
  }
  if (value.find_first_of(std::string_view("/\\\0", 3)) != std::string_view::npos ||
      value == "." || value == "..") {
    throw IoError(parent.string() + ": cannot create run directory: " + std::string(what) +
                  " name '" + std::string(value) + "' is not usable in a directory name");
  }
}

/// Length of the UTF-8 sequence starting at s[i], or 0 when none starts there.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t n = 0;
  unsigned min = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned code = c & (0x7f >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string safe_dir_name(std::string_view name) {
  constexpr std::size_t kMaxBytes = 200;
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    std::size_t n = 1;
    std::string piece;
    if (c >= 0x80) {
      n = utf8_length(name, i);
      piece = n > 0 ? std::string(name.substr(i, n)) : "_";
      if (n == 0) n = 1;
    } else {
      piece = c < 0x20 || c == 0x7f || c == '/' || c == '\\' ? "_" : std::string(1, name[i]);
    }
    if (out.size() + piece.size() > kMaxBytes) break;
    out += piece;
    i += n;
  }
  if (out.empty()) return "config";
  if (out.find_first_not_of('.') == std::string::npos) out.insert(0, "_");
  return out;
}

fs::path config_results_dir(const fs::path& results_dir, std::string_view config_name) {
  const fs::path dir = results_dir / safe_dir_name(config_name);
  const fs::path root = results_dir.empty() ? fs::path(".") : results_dir;
  const fs::path rel = (root / safe_dir_name(config_name))
                           .lexically_normal()
                           .lexically_relative(root.lexically_normal());
  if (rel.empty() || rel == "." || *rel.begin() == "..") {
    throw IoError("config name '" + safe_dir_name(config_name) + "' would put its runs outside " +
                  root.string());
  }
  return dir;
}

std::string format_run_id(std::string_view model, std::string_view dataset,
                          std::chrono::system_clock::time_point when, uint16_t suffix) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) {
    throw IoError("cannot format run id: time " + std::to_string(static_cast<long long>(t)) +
                  " is out of range");
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "_%04d%02d%02d-%02d%02d%02d_%04x", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<unsigned>(suffix));
  std::string id;
  id.reserve(model.size() + dataset.size() + 32);
  id.append(model).append("_").append(dataset).append(buf);
  return id;
}

RunDir create_run_dir(const fs::path& parent, std::string_view model, std::string_view dataset) {
  check_name_part(parent, "model", model);
  check_name_part(parent, "dataset", dataset);
  std::error_code ec;
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw IoError(parent.string() + ": cannot create results directory: " + ec.message());
    }
  }
  std::random_device rd;
  std::uniform_int_distribution<unsigned> dist(0, 0xffff);
  for (int attempt = 0; attempt < 64; ++attempt) {
    std::string id = format_run_id(model, dataset, std::chrono::system_clock::now(),
                                   static_cast<uint16_t>(dist(rd)));
    fs::path dir = parent / id;
    // create_directory is atomic: it returns true only for the caller that created it.
    if (fs::create_directory(dir, ec)) return RunDir{std::move(id), std::move(dir)};
    if (ec) throw IoError(dir.string() + ": cannot create run directory: " + ec.message());
  }
  throw IoError(parent.string() + ": cannot create a unique run directory for " +
                std::string(model) + "_" + std::string(dataset) + " after 64 tries");
}

}  // namespace moedil::io
