#include "moedil/data/office_home.h"

#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/data/image_cache.h"
#include "moedil/data/image_files.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOfficeHomeLayout =
    "<root>/OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}/<class>/<image>.jpg "
    "(the doubled OfficeHomeDataset_10072016/OfficeHomeDataset_10072016/ of the official zip, "
    "or <root> being the folder that holds Art, Clipart, Product and Real World, work too)";

const std::vector<std::string> kOfficeHomeDomains{"Art", "Clipart", "Product", "Real World"};

ImageFileList scan_officehome(const fs::path& root) {
  const std::string what = "OfficeHome";
  require_root(what, root, kOfficeHomeLayout);
  const fs::path top = root / "OfficeHomeDataset_10072016";
  std::optional<fs::path> base;
  for (const fs::path& candidate : {top / "OfficeHomeDataset_10072016", top, root}) {
    std::error_code ec;
    for (const std::string& domain : kOfficeHomeDomains) {
      if (fs::is_directory(candidate / domain, ec)) base = candidate;
    }
    if (base) break;
  }
  if (!base) {
    throw DataError(what + ": no domain folder (Art, Clipart, Product, Real World) found under " +
                    quote_path(root) + "; expected the layout " + kOfficeHomeLayout + ".");
  }
  std::vector<std::string> missing;
  for (const std::string& domain : kOfficeHomeDomains) {
    std::error_code ec;
    if (!fs::is_directory(*base / domain, ec)) missing.push_back("'" + domain + "'");
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    throw DataError(what + " " + quote_path(*base) + " lacks the domain folder(s) " + names +
                    "; expected the layout " + kOfficeHomeLayout + ".");
  }
  ImageFileList list;
  list.domain_names = kOfficeHomeDomains;
  std::vector<ClassFolder> dirs;
  std::set<std::string> classes;
  for (std::size_t k = 0; k < kOfficeHomeDomains.size(); ++k) {
    for (const fs::path& c : list_dir(*base / kOfficeHomeDomains[k], true)) {
      ClassFolder d{kOfficeHomeDomains[k], file_name(c), c, false};
      d.domain_id = static_cast<int64_t>(k);
      classes.insert(d.cls);
      dirs.push_back(std::move(d));
    }
  }
  if (classes.empty()) {
    throw DataError(what + " " + quote_path(*base) +
                    ": the domain folders hold no class folders; expected the layout " +
                    kOfficeHomeLayout + ".");
  }
  list.class_names.assign(classes.begin(), classes.end());
  check_same_classes(what, *base, dirs, list.domain_names);
  for (ClassFolder& d : dirs) {
    d.label = index_of(list.class_names, d.cls);
    d.order = d.label;
  }
  list.files = collect_files(std::move(dirs));
  return list;
}

}  // namespace

Dataset load_officehome(const std::filesystem::path& root, const ImageLoadOptions& o) {
  return load_image_files("officehome", root, "", scan_officehome(root), o);
}

}  // namespace moedil::data
