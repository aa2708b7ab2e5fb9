#include "moedil/data/image_folder.h"

#include <spdlog/logger.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/safe_file.h"
#include "moedil/io/logging.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kImageFolderLayout =
    "<root>/<domain>/<class>/<image> or <root>/<class>/<image> (images: jpg, jpeg, png, bmp; "
    "optional train/ and val/ (or test/) folders under <root> or under each <domain>)";
constexpr const char* kOfficeHomeLayout =
    "<root>/OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}/<class>/<image>.jpg "
    "(the doubled OfficeHomeDataset_10072016/OfficeHomeDataset_10072016/ of the official zip, "
    "or <root> being the folder that holds Art, Clipart, Product and Real World, work too)";
constexpr const char* kCore50Layout =
    "<root>/core50_128x128/s1..s11/o1..o50/<image>.png (or <root> being core50_128x128)";

const std::vector<std::string> kOfficeHomeDomains{"Art", "Clipart", "Product", "Real World"};
const std::vector<std::string> kCore50Categories{
    "plug_adapter", "mobile_phone", "scissors", "light_bulb", "can",
    "glasses",      "ball",         "marker",   "cup",        "remote_control"};
constexpr int64_t kCore50Objects = 50;

/// Cache file format: kCacheMagic, kCacheVersion, then the fields written by write_cache.
/// Bump kCacheVersion whenever decoding or the format changes (it is part of the key too).
constexpr char kCacheMagic[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'C'};
constexpr char kCacheEnd[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'E'};
constexpr uint32_t kCacheVersion = 1;

/// Progress is logged every 5% for datasets of at least this many images.
constexpr int64_t kProgressMinImages = 200;

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string quote_path(const fs::path& p) { return "'" + p.string() + "'"; }

std::string file_name(const fs::path& p) { return p.filename().string(); }

bool is_image_name(const std::string& name) {
  const std::string ext = lower(fs::path(name).extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

/// Sub-folders (`folders`) or image files of `dir`, sorted by name. Hidden entries (".*") and
/// macOS zip debris (__MACOSX) are left out. Throws DataError when `dir` cannot be listed.
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
      io::require_regular_file(it->path());
      out.push_back(it->path());
    }
  }
  if (ec) throw DataError("cannot list folder " + quote_path(dir) + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
  return out;
}

/// DataError unless `root` is an existing folder; the message shows the expected layout.
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

bool is_split_name(const fs::path& dir) {
  const std::string n = lower(file_name(dir));
  return n == "train" || n == "val" || n == "test";
}

bool all_split_names(const std::vector<fs::path>& dirs) {
  return !dirs.empty() && std::all_of(dirs.begin(), dirs.end(), is_split_name);
}

bool is_test_split(const fs::path& dir) { return lower(file_name(dir)) != "train"; }

/// One class folder and what its images are.
struct ClassDir {
  std::string domain;  ///< domain name ("" without domains)
  std::string cls;     ///< class folder name
  fs::path dir;
  bool test = false;
  int64_t label = 0;
  int64_t domain_id = 0;
  int64_t order = 0;  ///< sort key within a domain (class index or object id)
};

/// One image file to decode.
struct ImageFile {
  fs::path path;
  int64_t label = 0;
  int64_t domain_id = 0;
  bool test = false;
  uintmax_t size = 0;
  int64_t mtime = 0;
};

/// A scanned dataset before decoding.
struct FileList {
  std::vector<ImageFile> files;
  std::vector<std::string> class_names;
  std::vector<std::string> domain_names;  ///< empty: no domains
  bool has_test_split = false;
};

/// DataError unless every domain has every class folder of the union; the message lists, per
/// domain, the classes it lacks.
void check_same_classes(const std::string& what, const fs::path& root,
                        const std::vector<ClassDir>& dirs,
                        const std::vector<std::string>& domains) {
  if (domains.size() < 2) return;
  std::set<std::string> all;
  std::map<std::string, std::set<std::string>> per_domain;
  for (const ClassDir& d : dirs) {
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

/// Lists the images of every class folder (sorted by domain, split, class order, file name) and
/// stats them for the cache fingerprint.
std::vector<ImageFile> collect_files(std::vector<ClassDir> dirs) {
  std::stable_sort(dirs.begin(), dirs.end(), [](const ClassDir& a, const ClassDir& b) {
    return std::tie(a.domain_id, a.test, a.order, a.cls) <
           std::tie(b.domain_id, b.test, b.order, b.cls);
  });
  std::vector<ImageFile> files;
  for (const ClassDir& d : dirs) {
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

// ---- layouts ---------------------------------------------------------------------------

FileList scan_image_folder(const std::string& name, const fs::path& root) {
  const std::string what = "image folder dataset '" + name + "'";
  require_root(what, root, kImageFolderLayout);
  const std::vector<fs::path> top = list_dir(root, true);
  if (top.empty()) {
    throw DataError(what + " root " + quote_path(root) + " holds no folders; expected the layout " +
                    kImageFolderLayout + ".");
  }
  FileList list;
  // (folder, is_test) pairs that hold the domain or class folders.
  std::vector<std::pair<fs::path, bool>> bodies;
  const bool root_split = all_split_names(top);
  if (root_split) {
    list.has_test_split = true;
    for (const fs::path& d : top) bodies.emplace_back(d, is_test_split(d));
  } else {
    bodies.emplace_back(root, false);
  }
  std::vector<ClassDir> dirs;
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
  for (const ClassDir& d : dirs) {
    classes.insert(d.cls);
    if (layout == 1) domains.insert(d.domain);
  }
  list.class_names.assign(classes.begin(), classes.end());
  list.domain_names.assign(domains.begin(), domains.end());
  check_same_classes(what, root, dirs, list.domain_names);
  for (ClassDir& d : dirs) {
    d.label = index_of(list.class_names, d.cls);
    d.order = d.label;
    d.domain_id = layout == 1 ? index_of(list.domain_names, d.domain) : 0;
  }
  list.files = collect_files(std::move(dirs));
  return list;
}

FileList scan_officehome(const fs::path& root) {
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
  FileList list;
  list.domain_names = kOfficeHomeDomains;
  std::vector<ClassDir> dirs;
  std::set<std::string> classes;
  for (std::size_t k = 0; k < kOfficeHomeDomains.size(); ++k) {
    for (const fs::path& c : list_dir(*base / kOfficeHomeDomains[k], true)) {
      ClassDir d{kOfficeHomeDomains[k], file_name(c), c, false};
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
  for (ClassDir& d : dirs) {
    d.label = index_of(list.class_names, d.cls);
    d.order = d.label;
  }
  list.files = collect_files(std::move(dirs));
  return list;
}

/// The number k of a folder named `<prefix><k>` (k >= 1), or -1.
int64_t numbered(const std::string& name, char prefix) {
  if (name.size() < 2 || name.size() > 10 || name[0] != prefix) return -1;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  }
  const int64_t k = std::stoll(name.substr(1));
  return k >= 1 ? k : -1;
}

FileList scan_core50(const fs::path& root, const std::string& labels) {
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
  FileList list;
  const bool by_object = labels == "object";
  if (by_object) {
    for (int64_t k = 1; k <= kCore50Objects; ++k) {
      list.class_names.push_back("o" + std::to_string(k));
    }
  } else {
    list.class_names = kCore50Categories;
  }
  std::vector<ClassDir> dirs;
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
      ClassDir d{session, file_name(o), o, false};
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

// ---- cache -----------------------------------------------------------------------------

/// 64-bit FNV-1a.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

/// Hash of everything the decoded dataset depends on, as 16 hex digits.
std::string cache_key(const std::string& name, const fs::path& root, const std::string& extra,
                      const FileList& list, const ImageLoadOptions& o) {
  std::error_code ec;
  fs::path abs = fs::absolute(root, ec);
  if (ec) abs = root;
  std::string fp = "moedil image cache v" + std::to_string(kCacheVersion) + '\n' + name + '\n' +
                   abs.lexically_normal().string() + '\n' + std::to_string(o.resize) + '\n' +
                   (o.skip_bad ? "skip" : "error") + '\n' + extra + '\n';
  for (const std::string& c : list.class_names) fp += "class " + c + '\n';
  for (const std::string& d : list.domain_names) fp += "domain " + d + '\n';
  for (const ImageFile& f : list.files) {
    fp += f.path.string();
    fp += '\0' + std::to_string(f.size) + '\0' + std::to_string(f.mtime) + '\0' +
          std::to_string(f.label) + '\0' + std::to_string(f.domain_id) + '\0' +
          (f.test ? '1' : '0') + '\n';
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(fp)));
  return hex;
}

/// Metadata kept next to the images in a cache file.
struct CacheExtras {
  int64_t skipped = 0;
  std::string skipped_example;
};

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string& out, const std::string& s) {
  put(out, static_cast<uint64_t>(s.size()));
  out += s;
}

void write_cache(const fs::path& file, const std::string& key, const Dataset& d,
                 const CacheExtras& extras) {
  const int64_t n = d.size();
  const auto image_bytes = static_cast<std::size_t>(d.images.numel());
  std::string out;
  out.reserve(image_bytes + static_cast<std::size_t>(n) * 17 + 4096);
  out.append(kCacheMagic, sizeof kCacheMagic);
  put(out, kCacheVersion);
  put_string(out, key);
  put_string(out, d.name);
  for (int64_t v : {n, d.channels(), d.height(), d.width(), d.num_classes}) put(out, v);
  put(out, static_cast<uint8_t>(d.has_domains()));
  put(out, static_cast<uint8_t>(d.has_test_split()));
  put(out, static_cast<uint64_t>(d.class_names.size()));
  for (const std::string& c : d.class_names) put_string(out, c);
  put(out, static_cast<uint64_t>(d.domain_names.size()));
  for (const std::string& c : d.domain_names) put_string(out, c);
  put(out, extras.skipped);
  put_string(out, extras.skipped_example);
  const auto append = [&](const at::Tensor& t, std::size_t bytes) {
    out.append(static_cast<const char*>(t.contiguous().data_ptr()), bytes);
  };
  append(d.labels, static_cast<std::size_t>(n) * sizeof(int64_t));
  if (d.has_domains()) append(d.domain_ids, static_cast<std::size_t>(n) * sizeof(int64_t));
  if (d.has_test_split()) append(d.is_test, static_cast<std::size_t>(n));
  append(d.images, image_bytes);
  out.append(kCacheEnd, sizeof kCacheEnd);
  io::write_file_atomic(file, out);
}

/// Reads a cache file written by write_cache, bounds-checking every field.
class CacheReader {
 public:
  explicit CacheReader(io::InputFile& in) : in_(in), left_(in.size()) {}

  uint64_t left() const { return left_; }

  bool bytes(void* p, uint64_t n) {
    if (n > left_) return false;
    try {
      if (in_.read(p, static_cast<std::size_t>(n)) != n) return false;
    } catch (const DataError&) {  // a read error: the cache is ignored like a damaged one
      return false;
    }
    left_ -= n;
    return true;
  }
  template <class T>
  bool get(T& v) {
    return bytes(&v, sizeof v);
  }
  bool get_string(std::string& s) {
    uint64_t n = 0;
    if (!get(n) || n > left_) return false;
    s.resize(static_cast<std::size_t>(n));
    return bytes(s.data(), n);
  }

 private:
  io::InputFile& in_;
  uint64_t left_;
};

/// The dataset stored in `file` when it is a valid cache for `key`; std::nullopt (with a warning
/// for a damaged file) otherwise.
std::optional<Dataset> read_cache(const fs::path& file, const std::string& key,
                                  CacheExtras& extras) {
  const auto fail = [&](const std::string& why) -> std::optional<Dataset> {
    io::logger()->warn("[data] ignoring cache file {}: {}; decoding the images again",
                       file.string(), why);
    return std::nullopt;
  };
  if (!io::path_present(file)) return std::nullopt;
  std::optional<io::InputFile> in;
  try {
    in.emplace(file);  // a FIFO or a link loop in the cache folder is ignored, never waited on
  } catch (const DataError& e) {
    return fail(e.what());
  }
  CacheReader r(*in);
  char magic[sizeof kCacheMagic];
  uint32_t version = 0;
  std::string stored_key;
  Dataset d;
  if (!r.bytes(magic, sizeof magic) || std::memcmp(magic, kCacheMagic, sizeof magic) != 0) {
    return fail("not a moedil image cache");
  }
  if (!r.get(version) || version != kCacheVersion) return fail("another format version");
  if (!r.get_string(stored_key) || stored_key != key) return fail("its key does not match");
  int64_t n = 0, c = 0, h = 0, w = 0;
  uint8_t has_domains = 0, has_test = 0;
  uint64_t count = 0;
  if (!r.get_string(d.name) || !r.get(n) || !r.get(c) || !r.get(h) || !r.get(w) ||
      !r.get(d.num_classes) || !r.get(has_domains) || !r.get(has_test) || !r.get(count)) {
    return fail("truncated header");
  }
  if (n <= 0 || c != 3 || h <= 0 || w <= 0 || h > (1 << 16) || w > (1 << 16) || count > r.left()) {
    return fail("bad header");
  }
  d.class_names.resize(static_cast<std::size_t>(count));
  for (std::string& s : d.class_names) {
    if (!r.get_string(s)) return fail("truncated class names");
  }
  if (!r.get(count) || count > r.left()) return fail("truncated domain names");
  d.domain_names.resize(static_cast<std::size_t>(count));
  for (std::string& s : d.domain_names) {
    if (!r.get_string(s)) return fail("truncated domain names");
  }
  if (!r.get(extras.skipped) || !r.get_string(extras.skipped_example)) {
    return fail("truncated header");
  }
  const uint64_t per_image = static_cast<uint64_t>(c * h * w) + sizeof(int64_t) +
                             (has_domains ? sizeof(int64_t) : 0) + (has_test ? 1 : 0);
  if (static_cast<uint64_t>(n) > r.left() / per_image ||
      static_cast<uint64_t>(n) * per_image + sizeof kCacheEnd != r.left()) {
    return fail("its size does not match its header");
  }
  d.labels = at::empty({n}, at::kLong);
  if (!r.bytes(d.labels.data_ptr(), static_cast<uint64_t>(n) * sizeof(int64_t))) {
    return fail("truncated labels");
  }
  if (has_domains) {
    d.domain_ids = at::empty({n}, at::kLong);
    if (!r.bytes(d.domain_ids.data_ptr(), static_cast<uint64_t>(n) * sizeof(int64_t))) {
      return fail("truncated domain ids");
    }
  }
  if (has_test) {
    std::vector<uint8_t> flags(static_cast<std::size_t>(n));
    if (!r.bytes(flags.data(), flags.size())) return fail("truncated test flags");
    d.is_test = at::empty({n}, at::kBool);
    bool* out = d.is_test.data_ptr<bool>();
    for (std::size_t i = 0; i < flags.size(); ++i) out[i] = flags[i] != 0;
  }
  d.images = at::empty({n, c, h, w}, at::kByte);
  if (!r.bytes(d.images.data_ptr(), static_cast<uint64_t>(d.images.numel()))) {
    return fail("truncated images");
  }
  char end[sizeof kCacheEnd];
  if (!r.bytes(end, sizeof end) || std::memcmp(end, kCacheEnd, sizeof end) != 0) {
    return fail("bad end marker");
  }
  return d;
}

// ---- decoding --------------------------------------------------------------------------

/// Decodes `path` as 8-bit BGR; an empty Mat (and `why`) when it cannot be decoded.
cv::Mat read_image(const fs::path& path, std::string& why) {
  try {
    cv::Mat m = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (m.empty()) why = "OpenCV cannot decode it";
    if (!m.empty() && m.type() != CV_8UC3) {
      why = "unexpected pixel type";
      m.release();
    }
    return m;
  } catch (const std::exception& e) {
    why = e.what();
  }
  return cv::Mat();
}

std::string unreadable_message(const fs::path& path, const std::string& why) {
  return "cannot decode image " + quote_path(path) + " (" + why +
         "; is it a valid jpg/png/bmp file?). Set on_bad_image to \"skip\" to leave out images "
         "that cannot be decoded.";
}

/// Decodes list.files (on o.threads threads) into a Dataset; unreadable images are dropped when
/// o.skip_bad (their count and an example are returned in `extras`).
Dataset decode(const std::string& name, const fs::path& root, const FileList& list,
               const ImageLoadOptions& o, CacheExtras& extras) {
  const auto& files = list.files;
  const auto n = static_cast<int64_t>(files.size());
  if (n == 0) {
    throw DataError("dataset '" + name + "' " + quote_path(root) +
                    ": the class folders hold no images (jpg, jpeg, png, bmp)");
  }
  const auto started = std::chrono::steady_clock::now();
  int64_t height = o.resize;
  int64_t width = o.resize;
  int64_t reference = -1;  // image that fixes the size when not resizing
  if (o.resize <= 0) {
    for (int64_t i = 0; i < n && reference < 0; ++i) {
      throw_if_stopped("decoding the images of dataset '" + name + "'");
      std::string why;
      const cv::Mat m = read_image(files[i].path, why);
      if (m.empty()) {
        if (!o.skip_bad) throw DataError(unreadable_message(files[i].path, why));
        continue;
      }
      reference = i;
      height = m.rows;
      width = m.cols;
    }
    if (reference < 0) {
      throw DataError("dataset '" + name + "' " + quote_path(root) + ": none of its " +
                      std::to_string(n) + " images can be decoded, e.g. " +
                      quote_path(files[0].path));
    }
  }
  int64_t threads =
      o.threads > 0 ? o.threads : static_cast<int64_t>(std::thread::hardware_concurrency());
  threads = std::max<int64_t>(1, std::min(threads, n));
  io::logger()->info(
      "[data] {}: decoding {} images from {} ({} threads{})", name, n, root.string(), threads,
      o.resize > 0 ? ", resized to " + std::to_string(o.resize) + "x" + std::to_string(o.resize)
                   : std::string());

  at::Tensor images = at::empty({n, 3, height, width}, at::kByte);
  uint8_t* const base = images.data_ptr<uint8_t>();
  const int64_t plane = height * width;
  const int64_t slot = 3 * plane;
  std::vector<uint8_t> ok(static_cast<std::size_t>(n), 0);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reported{0};  // last 5% step logged
  std::mutex progress_mutex;
  std::mutex error_mutex;
  int64_t error_index = -1;  // lowest index whose image is an error
  std::string error_message;

  const auto record_error = [&](int64_t i, std::string message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (error_index < 0 || i < error_index) {
      error_index = i;
      error_message = std::move(message);
    }
    stop = true;
  };
  const auto process = [&](int64_t i) {
    const fs::path& path = files[static_cast<std::size_t>(i)].path;
    std::string why;
    cv::Mat m = read_image(path, why);
    if (!m.empty() && o.resize > 0 && (m.rows != height || m.cols != width)) {
      try {
        cv::Mat resized;
        cv::resize(m, resized, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0,
                   cv::INTER_AREA);
        m = resized;
      } catch (const std::exception& e) {
        why = std::string("resize failed: ") + e.what();
        m.release();
      }
    }
    if (m.empty()) {
      if (!o.skip_bad) record_error(i, unreadable_message(path, why));
      return;
    }
    if (m.rows != height || m.cols != width) {
      record_error(i, "dataset '" + name + "': images differ in size: " +
                          quote_path(files[static_cast<std::size_t>(reference)].path) + " is " +
                          std::to_string(width) + "x" + std::to_string(height) + " but " +
                          quote_path(path) + " is " + std::to_string(m.cols) + "x" +
                          std::to_string(m.rows) +
                          " (width x height). Set `resize` (e.g. 224) to load every image at "
                          "one square size.");
      return;
    }
    uint8_t* out = base + i * slot;
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = m.ptr<uint8_t>(static_cast<int>(y));
      uint8_t* r = out + y * width;
      uint8_t* g = r + plane;
      uint8_t* b = g + plane;
      for (int64_t x = 0; x < width; ++x) {  // BGR -> RGB planes
        b[x] = row[3 * x];
        g[x] = row[3 * x + 1];
        r[x] = row[3 * x + 2];
      }
    }
    ok[static_cast<std::size_t>(i)] = 1;
  };
  const auto worker = [&] {
    // An index is only taken while no error is known, and every taken index is finished, so the
    // lowest recorded error is the first error in file order (deterministic message).
    while (!stop.load() && stop_flag().load(std::memory_order_relaxed) == 0) {
      const int64_t i = next.fetch_add(1);
      if (i >= n) break;
      try {
        process(i);
      } catch (const std::exception& e) {
        record_error(i, "dataset '" + name + "': failed on " +
                            quote_path(files[static_cast<std::size_t>(i)].path) + ": " + e.what());
      } catch (...) {
        record_error(i, "dataset '" + name + "': failed on " +
                            quote_path(files[static_cast<std::size_t>(i)].path));
      }
      const int64_t k = done.fetch_add(1) + 1;
      const int64_t step = k * 20 / n;  // 5% steps
      if (n >= kProgressMinImages && step > reported.load()) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        if (step > reported.load()) {  // steps are logged once each, in increasing order
          reported = step;
          io::logger()->info("[data] {}: decoded {}/{} images ({}%)", name, k, n, k * 100 / n);
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  throw_if_stopped("decoding the images of dataset '" + name + "'");
  if (error_index >= 0) throw DataError(error_message);

  // Drop the unreadable images: move the kept slots to the front.
  std::vector<int64_t> labels;
  std::vector<int64_t> domains;
  std::vector<uint8_t> test;
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const ImageFile& f = files[static_cast<std::size_t>(i)];
    if (!ok[static_cast<std::size_t>(i)]) {
      if (extras.skipped++ == 0) extras.skipped_example = f.path.string();
      continue;
    }
    if (kept != i) std::memcpy(base + kept * slot, base + i * slot, static_cast<size_t>(slot));
    labels.push_back(f.label);
    domains.push_back(f.domain_id);
    test.push_back(f.test ? 1 : 0);
    ++kept;
  }
  if (kept == 0) {
    throw DataError("dataset '" + name + "' " + quote_path(root) + ": none of its " +
                    std::to_string(n) + " images can be decoded, e.g. " +
                    quote_path(fs::path(extras.skipped_example)));
  }
  if (extras.skipped > 0) {
    io::logger()->warn("[data] {}: skipped {} unreadable images, e.g. {}", name, extras.skipped,
                       extras.skipped_example);
  }
  Dataset d;
  d.name = name;
  d.images = kept == n ? images : images.narrow(0, 0, kept);
  d.labels = at::tensor(at::ArrayRef<int64_t>(labels), at::kLong);
  if (!list.domain_names.empty()) {
    d.domain_ids = at::tensor(at::ArrayRef<int64_t>(domains), at::kLong);
  }
  if (list.has_test_split) {
    d.is_test = at::tensor(at::ArrayRef<uint8_t>(test), at::kByte).to(at::kBool);
  }
  d.class_names = list.class_names;
  d.domain_names = list.domain_names;
  d.num_classes = static_cast<int64_t>(list.class_names.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  io::logger()->info("[data] {}: decoded {} images of {}x{} in {:.1f} s", name, kept, width, height,
                     seconds);
  return d;
}

/// Decodes `list`, or reads it from o.cache_dir when a cache for exactly these files exists
/// (and writes one after decoding). `extra` is the loader's own options (part of the key).
Dataset load_list(const std::string& name, const fs::path& root, const std::string& extra,
                  const FileList& list, const ImageLoadOptions& o) {
  fs::path cache_file;
  if (!o.cache_dir.empty()) {
    cache_file =
        fs::path(o.cache_dir) / (name + "-" + cache_key(name, root, extra, list, o) + ".bin");
    CacheExtras extras;
    std::optional<Dataset> cached = read_cache(cache_file, cache_file.stem().string(), extras);
    if (cached) {
      cached->name = name;
      io::logger()->info("[data] {}: loaded from cache {} ({} images of {}x{})", name,
                         cache_file.string(), cached->size(), cached->width(), cached->height());
      if (extras.skipped > 0) {
        io::logger()->warn("[data] {}: skipped {} unreadable images, e.g. {}", name, extras.skipped,
                           extras.skipped_example);
      }
      return std::move(*cached);
    }
  }
  CacheExtras extras;
  Dataset d = decode(name, root, list, o, extras);
  if (!cache_file.empty()) {
    try {
      write_cache(cache_file, cache_file.stem().string(), d, extras);
      io::logger()->info("[data] {}: wrote cache {}", name, cache_file.string());
    } catch (const Error& e) {
      io::logger()->warn("[data] {}: cannot write the cache: {}", name, e.what());
    }
  }
  return d;
}

}  // namespace

Dataset load_image_folder(const std::string& name, const std::filesystem::path& root,
                          const ImageLoadOptions& o) {
  return load_list(name, root, "", scan_image_folder(name, root), o);
}

Dataset load_officehome(const std::filesystem::path& root, const ImageLoadOptions& o) {
  return load_list("officehome", root, "", scan_officehome(root), o);
}

Dataset load_core50(const std::filesystem::path& root, const std::string& labels,
                    const ImageLoadOptions& o) {
  return load_list("core50", root, "labels=" + labels, scan_core50(root, labels), o);
}

}  // namespace moedil::data
