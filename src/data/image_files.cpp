#include "moedil/data/image_files.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>

#include "moedil/common/ascii.h"
#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil/common/stop.h"

namespace moedil::data {

namespace fs = std::filesystem;

std::string quote_path(const fs::path& p) { return "'" + p.string() + "'"; }

std::string file_name(const fs::path& p) { return p.filename().string(); }

bool is_image_name(const std::string& name) {
  const std::string ext = ascii_lower(fs::path(name).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::vector<fs::path> list_dir(const fs::path& dir, bool folders) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = file_name(it->path());
    if (name.empty() || name[0] == '.' || name == "__MACOSX") continue;
    std::error_code type_ec;
    if (folders) {
      if (it->is_directory(type_ec)) out.push_back(it->path());
    } else if (is_image_name(name)) {
      // A FIFO, device or broken link named like an image is refused, not skipped silently
      // (a FIFO would block the decoder).
      require_regular_file(it->path());
      out.push_back(it->path());
    }
  }
  if (ec) throw DataError("cannot list folder " + quote_path(dir) + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return out;
}

void require_root(const std::string& what, const fs::path& root, const std::string& layout) {
  std::error_code ec;
  if (!fs::exists(root, ec)) {
    throw DataError(what + " root " + quote_path(root) + " does not exist; expected the layout " +
                    layout + ". Set dataset_root to the folder holding the images.");
  }
  if (!fs::is_directory(root, ec)) {
    throw DataError(what + " root " + quote_path(root) + " is not a folder; expected the layout " +
                    layout + ".");
  }
}

void check_same_classes(const std::string& what, const fs::path& root,
                        const std::vector<ClassFolder>& dirs,
                        const std::vector<std::string>& domains) {
  if (domains.size() < 2) return;
  std::set<std::string> all;
  std::map<std::string, std::set<std::string>> per_domain;
  for (const ClassFolder& d : dirs) {
    all.insert(d.cls);
    per_domain[d.domain].insert(d.cls);
  }
  std::string problems;
  for (const std::string& domain : domains) {
    const std::set<std::string>& have = per_domain[domain];
    std::vector<std::string> missing;
    for (const std::string& c : all) {
      if (have.count(c) == 0) missing.push_back(c);
    }
    if (missing.empty()) continue;
    std::string line = "domain '" + domain + "' lacks ";
    constexpr std::size_t kShown = 10;
    for (std::size_t i = 0; i < missing.size() && i < kShown; ++i) {
      line += (i ? ", '" : "'") + missing[i] + "'";
    }
    if (missing.size() > kShown) {
      line += " and " + std::to_string(missing.size() - kShown) + " more";
    }
    problems += (problems.empty() ? "" : "; ") + line;
  }
  if (!problems.empty()) {
    throw DataError(what + " " + quote_path(root) + ": every domain needs the same " +
                    std::to_string(all.size()) + " class folders, but " + problems + ".");
  }
}

std::vector<ImageFile> collect_files(std::vector<ClassFolder> dirs) {
  std::stable_sort(dirs.begin(), dirs.end(), [](const ClassFolder& a, const ClassFolder& b) {
    return std::tie(a.domain_id, a.test, a.order, a.cls) <
           std::tie(b.domain_id, b.test, b.order, b.cls);
  });
  std::vector<ImageFile> files;
  for (const ClassFolder& d : dirs) {
    throw_if_stopped("listing the images of " + quote_path(d.dir));
    for (const fs::path& p : list_dir(d.dir, false)) {
      ImageFile f;
      f.path = p;
      f.label = d.label;
      f.domain_id = d.domain_id;
      f.test = d.test;
      std::error_code ec;
      f.size = fs::file_size(p, ec);
      if (ec) throw DataError("cannot read the size of " + quote_path(p) + ": " + ec.message());
      const auto time = fs::last_write_time(p, ec);
      if (ec) throw DataError("cannot read the time of " + quote_path(p) + ": " + ec.message());
      f.mtime = static_cast<int64_t>(time.time_since_epoch().count());
      files.push_back(std::move(f));
    }
  }
  return files;
}

int64_t index_of(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) - names.begin();
}

}  // namespace moedil::data
