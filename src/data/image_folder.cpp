#include "moedil/data/image_folder.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "moedil/common/ascii.h"
#include "moedil/common/error.h"
#include "moedil/data/image_cache.h"
#include "moedil/data/image_files.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageFolderLayout =
    "<root>/<domain>/<class>/<image> or <root>/<class>/<image> (images: jpg, jpeg, png, bmp; "
    "optional train/ and val/ (or test/) folders under <root> or under each <domain>)";

bool is_split_name(const fs::path& dir) {
  const std::string n = ascii_lower(file_name(dir));
  return n == "train" || n == "val" || n == "test";
}

bool all_split_names(const std::vector<fs::path>& dirs) {
  return !dirs.empty() && std::all_of(dirs.begin(), dirs.end(), is_split_name);
}

bool is_test_split(const fs::path& dir) { return ascii_lower(file_name(dir)) != "train"; }

ImageFileList scan_image_folder(const std::string& name, const fs::path& root) {
  const std::string what = "image folder dataset '" + name + "'";
  require_root(what, root, kImageFolderLayout);
  const std::vector<fs::path> top = list_dir(root, true);
  if (top.empty()) {
    throw DataError(what + " root " + quote_path(root) + " holds no folders; expected the layout " +
                    kImageFolderLayout + ".");
  }
  ImageFileList list;
  // (folder, is_test) pairs that hold the domain or class folders.
  std::vector<std::pair<fs::path, bool>> bodies;
  const bool root_split = all_split_names(top);
  if (root_split) {
    list.has_test_split = true;
    for (const fs::path& d : top) bodies.emplace_back(d, is_test_split(d));
  } else {
    bodies.emplace_back(root, false);
  }
  std::vector<ClassFolder> dirs;
  int layout = -1;  // 0: classes only, 1: domains
  fs::path layout_folder;
  for (const auto& [body, test] : bodies) {
    const std::vector<fs::path> first = list_dir(body, true);
    if (first.empty()) continue;
    std::vector<std::vector<fs::path>> subs;
    std::size_t with_subs = first.size();
    for (std::size_t i = 0; i < first.size(); ++i) {
      subs.push_back(list_dir(first[i], true));
      if (!subs.back().empty() && with_subs == first.size()) with_subs = i;
    }
    const int this_layout = with_subs < first.size() ? 1 : 0;
    if (layout >= 0 && layout != this_layout) {
      throw DataError(what + ": " + quote_path(layout_folder) + " and " + quote_path(body) +
                      " have different layouts (one holds domain folders, the other class "
                      "folders); expected " +
                      std::string(kImageFolderLayout) + ".");
    }
    layout = this_layout;
    layout_folder = body;
    for (std::size_t i = 0; i < first.size(); ++i) {
      if (this_layout == 0) {
        dirs.push_back({"", file_name(first[i]), first[i], test});
        continue;
      }
      if (subs[i].empty()) {
        throw DataError(what + ": " + quote_path(first[i]) + " has no class sub-folders but " +
                        quote_path(first[with_subs]) +
                        " has, so the first-level folders are taken as domains and each needs "
                        "class folders; expected " +
                        kImageFolderLayout + ".");
      }
      const std::string domain = file_name(first[i]);
      if (!root_split && all_split_names(subs[i])) {
        list.has_test_split = true;
        for (const fs::path& split : subs[i]) {
          for (const fs::path& c : list_dir(split, true)) {
            dirs.push_back({domain, file_name(c), c, is_test_split(split)});
          }
        }
      } else {
        for (const fs::path& c : subs[i]) dirs.push_back({domain, file_name(c), c, test});
      }
    }
  }
  if (dirs.empty()) {
    throw DataError(what + " root " + quote_path(root) +
                    " holds no class folders; expected the layout " + kImageFolderLayout + ".");
  }
  std::set<std::string> classes;
  std::set<std::string> domains;
  for (const ClassFolder& d : dirs) {
    classes.insert(d.cls);
    if (layout == 1) domains.insert(d.domain);
  }
  list.class_names.assign(classes.begin(), classes.end());
  list.domain_names.assign(domains.begin(), domains.end());
  check_same_classes(what, root, dirs, list.domain_names);
  for (ClassFolder& d : dirs) {
    d.label = index_of(list.class_names, d.cls);
    d.order = d.label;
    d.domain_id = layout == 1 ? index_of(list.domain_names, d.domain) : 0;
  }
  list.files = collect_files(std::move(dirs));
  return list;
}

}  // namespace

Dataset load_image_folder(const std::string& name, const std::filesystem::path& root,
                          const ImageLoadOptions& o) {
  return load_image_files(name, root, "", scan_image_folder(name, root), o);
}

}  // namespace moedil::data
