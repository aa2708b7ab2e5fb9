#include "moedil/data/image_cache.h"

#include <ATen/ATen.h>
#include <spdlog/logger.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

/// Cache file format: kCacheMagic, kCacheVersion, then the fields written by write_image_cache.
/// Bump kCacheVersion whenever decoding or the format changes (it is part of the key too).
constexpr char kCacheMagic[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'C'};
constexpr char kCacheEnd[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'E'};
constexpr uint32_t kCacheVersion = 1;

/// 64-bit FNV-1a.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string image_cache_key(const std::string& name, const fs::path& root,
                            const std::string& extra, const ImageFileList& list,
                            const ImageLoadOptions& o) {
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

namespace {

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::string& out, const std::string& s) {
  put(out, static_cast<uint64_t>(s.size()));
  out += s;
}

}  // namespace

void write_image_cache(const fs::path& file, const std::string& key, const Dataset& d,
                       const SkippedImages& skipped) {
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
  put(out, skipped.count);
  put_string(out, skipped.example);
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

namespace {

/// Reads a cache file written by write_image_cache, bounds-checking every field.
class CacheReader {
 public:
  explicit CacheReader(InputFile& in) : in_(in), left_(in.size()) {}

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
  InputFile& in_;
  uint64_t left_;
};

}  // namespace

std::optional<Dataset> read_image_cache(const fs::path& file, const std::string& key,
                                        SkippedImages& skipped) {
  const auto fail = [&](const std::string& why) -> std::optional<Dataset> {
    io::logger()->warn("[data] ignoring cache file {}: {}; decoding the images again",
                       file.string(), why);
    return std::nullopt;
  };
  if (!path_present(file)) return std::nullopt;
  std::optional<InputFile> in;
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
  if (!r.get(skipped.count) || !r.get_string(skipped.example)) {
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

Dataset load_image_files(const std::string& name, const fs::path& root,
                         const std::string& extra, const ImageFileList& list,
                         const ImageLoadOptions& o) {
  fs::path cache_file;
  if (!o.cache_dir.empty()) {
    cache_file =
        fs::path(o.cache_dir) / (name + "-" + image_cache_key(name, root, extra, list, o) + ".bin");
    SkippedImages skipped;
    std::optional<Dataset> cached =
        read_image_cache(cache_file, cache_file.stem().string(), skipped);
    if (cached) {
      cached->name = name;
      io::logger()->info("[data] {}: loaded from cache {} ({} images of {}x{})", name,
                         cache_file.string(), cached->size(), cached->width(), cached->height());
      if (skipped.count > 0) {
        io::logger()->warn("[data] {}: skipped {} unreadable images, e.g. {}", name, skipped.count,
                           skipped.example);
      }
      return std::move(*cached);
    }
  }
  SkippedImages skipped;
  Dataset d = decode_images(name, root, list, o, skipped);
  if (!cache_file.empty()) {
    try {
      write_image_cache(cache_file, cache_file.stem().string(), d, skipped);
      io::logger()->info("[data] {}: wrote cache {}", name, cache_file.string());
    } catch (const Error& e) {
      io::logger()->warn("[data] {}: cannot write the cache: {}", name, e.what());
    }
  }
  return d;
}

}  // namespace moedil::data
