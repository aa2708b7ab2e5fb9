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

}  // namespace

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
