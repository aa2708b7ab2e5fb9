#include "moedil/data/core50.h"

#include <algorithm>
#include <cctype>
#include <system_error>
#include <utility>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/data/image_cache.h"
#include "moedil/data/image_files.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCore50Layout =
    "<root>/core50_128x128/s1..s11/o1..o50/<image>.png (or <root> being core50_128x128)";

const std::vector<std::string> kCore50Categories{
    "plug_adapter", "mobile_phone", "scissors", "light_bulb", "can",
    "glasses",      "ball",         "marker",   "cup",        "remote_control"};
constexpr int64_t kCore50Objects = 50;

/// The number k of a folder named `<prefix><k>` (k >= 1), or -1.
int64_t numbered(const std::string& name, char prefix) {
  if (name.size() < 2 || name.size() > 10 || name[0] != prefix) return -1;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  }
  const int64_t k = std::stoll(name.substr(1));
  return k >= 1 ? k : -1;
}

ImageFileList scan_core50(const fs::path& root, const std::string& labels) {
  if (labels != "object" && labels != "category") {
    throw ConfigError("core50_labels must be \"object\" or \"category\", not \"" + labels + "\"");
  }
  const std::string what = "CORe50";
  require_root(what, root, kCore50Layout);
  std::error_code ec;
  const fs::path base =
      fs::is_directory(root / "core50_128x128", ec) ? root / "core50_128x128" : root;
  std::vector<std::pair<int64_t, fs::path>> sessions;
  for (const fs::path& s : list_dir(base, true)) {
    const int64_t k = numbered(file_name(s), 's');
    if (k > 0) sessions.emplace_back(k, s);
  }
  if (sessions.empty()) {
    throw DataError(what + ": no session folders s1..s11 under " + quote_path(base) +
                    "; expected the layout " + kCore50Layout + ".");
  }
  std::stable_sort(sessions.begin(), sessions.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  ImageFileList list;
  const bool by_object = labels == "object";
  if (by_object) {
    for (int64_t k = 1; k <= kCore50Objects; ++k) {
      list.class_names.push_back("o" + std::to_string(k));
    }
  } else {
    list.class_names = kCore50Categories;
  }
  std::vector<ClassFolder> dirs;
  for (std::size_t s = 0; s < sessions.size(); ++s) {
    const std::string session = file_name(sessions[s].second);
    list.domain_names.push_back(session);
    for (const fs::path& o : list_dir(sessions[s].second, true)) {
      const int64_t object = numbered(file_name(o), 'o');
      if (object < 0) continue;
      if (object > kCore50Objects) {
        throw DataError(what + ": " + quote_path(o) +
                        " is not an object folder o1..o50; expected the layout " + kCore50Layout +
                        ".");
      }
      ClassFolder d{session, file_name(o), o, false};
      d.domain_id = static_cast<int64_t>(s);
      d.order = object;
      d.label = by_object ? object - 1 : (object - 1) / 5;
      dirs.push_back(std::move(d));
    }
  }
  if (dirs.empty()) {
    throw DataError(what + ": the session folders under " + quote_path(base) +
                    " hold no object folders o1..o50; expected the layout " + kCore50Layout + ".");
  }
  check_same_classes(what, base, dirs, list.domain_names);
  list.files = collect_files(std::move(dirs));
  return list;
}

}  // namespace

Dataset load_core50(const std::filesystem::path& root, const std::string& labels,
                    const ImageLoadOptions& o) {
  return load_image_files("core50", root, "labels=" + labels, scan_core50(root, labels), o);
}

}  // namespace moedil::data
