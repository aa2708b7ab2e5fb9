#include "moedil/data/image_cache.h"

#include <ATen/ATen.h>
#include <spdlog/logger.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

#include "moedil/common/error.h"
#include "moedil/common/safe_file.h"
#include "moedil/io/atomic_file.h"
#include "moedil/io/logging.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

/// Cache file format (CacheWriter writes it, read_image_cache reads it): see kCacheVersion.
/// Bump kCacheVersion whenever decoding or the format changes (it is part of the key too).
constexpr char kCacheMagic[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'C'};
constexpr char kCacheEnd[8] = {'M', 'O', 'E', 'D', 'I', 'M', 'G', 'E'};
constexpr uint32_t kCacheVersion = 2;
/// Version 2 layout (little endian): magic, version, 4 zero bytes, int64 N, C, H, W; zeros up to
/// kImagesOffset; the N images, uint8 [N, C, H, W]; the trailer (key, name, num_classes, flags,
/// class and domain names, skipped images, labels, domain ids, test flags); the footer: uint64
/// offset of the trailer, kCacheEnd. The images start on a page boundary so they can be mapped.
constexpr uint64_t kImagesOffset = 4096;
constexpr uint64_t kCountOffset = 16;
constexpr uint64_t kFooterBytes = sizeof(uint64_t) + sizeof kCacheEnd;

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

/// Writes a cache file piece by piece: the preamble, the images as they come, then the trailer
/// and the footer. The file appears at its path only when finish() succeeds.
class CacheWriter {
 public:
  CacheWriter(const fs::path& file, int64_t channels, int64_t height, int64_t width)
      : out_(file), slot_(channels * height * width) {
    std::string pre;
    pre.append(kCacheMagic, sizeof kCacheMagic);
    put(pre, kCacheVersion);
    put(pre, uint32_t{0});
    for (int64_t v : {int64_t{0}, channels, height, width}) put(pre, v);
    pre.resize(kImagesOffset, '\0');
    out_.append(pre);
  }

  void append(const uint8_t* pixels, int64_t count) {
    out_.append(std::string_view(reinterpret_cast<const char*>(pixels),
                                 static_cast<std::size_t>(count * slot_)));
    images_ += count;
  }

  /// `d` holds everything but (possibly) the images, which were appended.
  void finish(const std::string& key, const Dataset& d, const SkippedImages& skipped) {
    const int64_t n = images_;
    if (d.labels.numel() != n) {
      throw IoError("image cache: " + std::to_string(n) + " images but " +
                    std::to_string(d.labels.numel()) + " labels");
    }
    std::string t;
    put_string(t, key);
    put_string(t, d.name);
    put(t, d.num_classes);
    put(t, static_cast<uint8_t>(d.has_domains()));
    put(t, static_cast<uint8_t>(d.has_test_split()));
    put(t, static_cast<uint64_t>(d.class_names.size()));
    for (const std::string& c : d.class_names) put_string(t, c);
    put(t, static_cast<uint64_t>(d.domain_names.size()));
    for (const std::string& c : d.domain_names) put_string(t, c);
    put(t, skipped.count);
    put_string(t, skipped.example);
    const auto append = [&](const at::Tensor& x, std::size_t bytes) {
      t.append(static_cast<const char*>(x.contiguous().data_ptr()), bytes);
    };
    append(d.labels.to(at::kLong), static_cast<std::size_t>(n) * sizeof(int64_t));
    if (d.has_domains()) {
      append(d.domain_ids.to(at::kLong), static_cast<std::size_t>(n) * sizeof(int64_t));
    }
    if (d.has_test_split()) append(d.is_test.to(at::kByte), static_cast<std::size_t>(n));
    put(t, out_.size());  // footer: where the trailer starts, then the end marker
    t.append(kCacheEnd, sizeof kCacheEnd);
    out_.append(t);
    std::string count;
    put(count, n);
    out_.write_at(kCountOffset, count);
    out_.commit();
  }

 private:
  io::AtomicFileWriter out_;
  int64_t slot_;
  int64_t images_ = 0;
};

/// A read-only private mapping of a whole file, unmapped when the last tensor over it is gone.
class Mapping {
 public:
  Mapping(void* base, std::size_t size) : base_(base), size_(size) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { ::munmap(base_, size_); }
  const uint8_t* data() const { return static_cast<const uint8_t*>(base_); }
  std::size_t size() const { return size_; }

 private:
  void* base_;
  std::size_t size_;
};

/// Reads the fields of a mapped cache file, bounds-checking every one.
class MemReader {
 public:
  MemReader(const uint8_t* p, uint64_t size) : p_(p), left_(size) {}
  uint64_t left() const { return left_; }
  bool bytes(void* out, uint64_t n) {
    if (n > left_) return false;
    std::memcpy(out, p_, static_cast<std::size_t>(n));
    p_ += n;
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
    s.assign(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(n));
    p_ += n;
    left_ -= n;
    return true;
  }

 private:
  const uint8_t* p_;
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
  std::shared_ptr<Mapping> map;
  try {
    InputFile in(file);  // a FIFO or a link loop in the cache folder is ignored, never waited on
    const uint64_t size = in.size();
    if (size < kImagesOffset + kFooterBytes) return fail("not a moedil image cache");
    const int fd = in.release();
    void* base = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (base == MAP_FAILED) return fail(std::string("cannot map it: ") + std::strerror(err));
    map = std::make_shared<Mapping>(base, static_cast<std::size_t>(size));
  } catch (const DataError& e) {
    return fail(e.what());
  }
  const uint8_t* const p = map->data();
  const uint64_t size = map->size();
  MemReader pre(p, kImagesOffset);
  char magic[sizeof kCacheMagic];
  uint32_t version = 0, pad = 0;
  int64_t n = 0, c = 0, h = 0, w = 0;
  if (!pre.bytes(magic, sizeof magic) || std::memcmp(magic, kCacheMagic, sizeof magic) != 0) {
    return fail("not a moedil image cache");
  }
  if (!pre.get(version) || version != kCacheVersion) return fail("another format version");
  if (!pre.get(pad) || !pre.get(n) || !pre.get(c) || !pre.get(h) || !pre.get(w) || n <= 0 ||
      c != 3 || h <= 0 || w <= 0 || h > (1 << 16) || w > (1 << 16)) {
    return fail("bad header");
  }
  uint64_t trailer = 0;
  std::memcpy(&trailer, p + size - kFooterBytes, sizeof trailer);
  if (std::memcmp(p + size - sizeof kCacheEnd, kCacheEnd, sizeof kCacheEnd) != 0) {
    return fail("bad end marker (an interrupted write?)");
  }
  const auto slot = static_cast<uint64_t>(c * h * w);
  if (static_cast<uint64_t>(n) > (size - kImagesOffset) / slot ||
      trailer != kImagesOffset + static_cast<uint64_t>(n) * slot ||
      trailer > size - kFooterBytes) {
    return fail("its size does not match its header");
  }
  MemReader r(p + trailer, size - kFooterBytes - trailer);
  std::string stored_key;
  Dataset d;
  if (!r.get_string(stored_key) || stored_key != key) return fail("its key does not match");
  uint8_t has_domains = 0, has_test = 0;
  uint64_t count = 0;
  if (!r.get_string(d.name) || !r.get(d.num_classes) || !r.get(has_domains) ||
      !r.get(has_test) || !r.get(count) || count > r.left()) {
    return fail("truncated header");
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
  if (!r.get(skipped.count) || !r.get_string(skipped.example)) return fail("truncated header");
  const uint64_t per_image =
      sizeof(int64_t) + (has_domains ? sizeof(int64_t) : 0) + (has_test ? 1 : 0);
  if (r.left() != static_cast<uint64_t>(n) * per_image) {
    return fail("its size does not match its header");
  }
  d.labels = at::empty({n}, at::kLong);
  r.bytes(d.labels.data_ptr(), static_cast<uint64_t>(n) * sizeof(int64_t));
  if (has_domains) {
    d.domain_ids = at::empty({n}, at::kLong);
    r.bytes(d.domain_ids.data_ptr(), static_cast<uint64_t>(n) * sizeof(int64_t));
  }
  if (has_test) {
    std::vector<uint8_t> flags(static_cast<std::size_t>(n));
    r.bytes(flags.data(), flags.size());
    d.is_test = at::empty({n}, at::kBool);
    bool* out = d.is_test.data_ptr<bool>();
    for (std::size_t i = 0; i < flags.size(); ++i) out[i] = flags[i] != 0;
  }
  // The images stay in the file: pages are read when touched and the kernel may drop them again.
  void* pixels = const_cast<uint8_t*>(p + kImagesOffset);
  d.images = at::from_blob(
      pixels, {n, c, h, w}, [map](void*) mutable { map.reset(); }, at::TensorOptions(at::kByte));
  return d;
}

namespace {

constexpr char kStatsMagic[8] = {'M', 'O', 'E', 'D', 'S', 'T', 'A', 'T'};

/// Sets d.mean and d.stddev from `<cache file>.stats` when it holds them for `key`; otherwise
/// computes them (compute_normalisation, as for a dataset in memory, so the numbers are the
/// same bit for bit) and writes that file, so a later run does not read every image for them.
void with_statistics(Dataset& d, const fs::path& cache_file, const std::string& key) {
  const fs::path file = cache_file.string() + ".stats";
  const auto channels = static_cast<std::size_t>(d.channels());
  if (path_present(file)) {
    try {
      const std::string bytes = read_input_file(file);
      MemReader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      char magic[sizeof kStatsMagic];
      std::string stored_key;
      std::vector<double> mean(channels), stddev(channels);
      if (r.bytes(magic, sizeof magic) && std::memcmp(magic, kStatsMagic, sizeof magic) == 0 &&
          r.get_string(stored_key) && stored_key == key &&
          r.bytes(mean.data(), channels * sizeof(double)) &&
          r.bytes(stddev.data(), channels * sizeof(double)) && r.left() == 0) {
        d.mean = std::move(mean);
        d.stddev = std::move(stddev);
        return;
      }
    } catch (const DataError&) {  // unreadable: computed again below
    }
  }
  compute_normalisation(d);
  std::string out(kStatsMagic, sizeof kStatsMagic);
  put_string(out, key);
  out.append(reinterpret_cast<const char*>(d.mean.data()), channels * sizeof(double));
  out.append(reinterpret_cast<const char*>(d.stddev.data()), channels * sizeof(double));
  try {
    io::write_file_atomic(file, out);
  } catch (const Error& e) {
    io::logger()->warn("[data] {}: cannot write {}: {}", d.name, file.string(), e.what());
  }
}

}  // namespace

Dataset load_image_files(const std::string& name, const fs::path& root,
                         const std::string& extra, const ImageFileList& list,
                         const ImageLoadOptions& o) {
  if (o.cache_dir.empty()) {
    SkippedImages skipped;
    return decode_images(name, root, list, o, skipped);
  }
  const fs::path cache_file =
      fs::path(o.cache_dir) / (name + "-" + image_cache_key(name, root, extra, list, o) + ".bin");
  const std::string key = cache_file.stem().string();
  const auto from_cache = [&]() -> std::optional<Dataset> {
    SkippedImages skipped;
    std::optional<Dataset> cached = read_image_cache(cache_file, key, skipped);
    if (!cached) return cached;
    cached->name = name;
    if (skipped.count > 0) {
      io::logger()->warn("[data] {}: skipped {} unreadable images, e.g. {}", name, skipped.count,
                         skipped.example);
    }
    return cached;
  };
  if (std::optional<Dataset> cached = from_cache()) {
    io::logger()->info("[data] {}: loaded from cache {} ({} images of {}x{}, memory-mapped)", name,
                       cache_file.string(), cached->size(), cached->width(), cached->height());
    with_statistics(*cached, cache_file, key);
    return std::move(*cached);
  }
  // Decoded straight into the cache file, a chunk at a time, then mapped: a dataset larger than
  // memory is never held whole.
  SkippedImages skipped;
  std::unique_ptr<CacheWriter> writer;
  std::string write_error;
  const auto writing = [&](const std::function<void()>& f) {
    if (!writer) return;
    try {
      f();
    } catch (const Error& e) {
      write_error = e.what();
      writer.reset();  // removes the temp file
    }
  };
  Dataset d;
  try {
    d = decode_images_streamed(
        name, root, list, o, skipped,
        [&](int64_t height, int64_t width) {
          try {
            writer = std::make_unique<CacheWriter>(cache_file, 3, height, width);
          } catch (const Error& e) {
            write_error = e.what();
          }
        },
        [&](const uint8_t* pixels, int64_t count) {
          writing([&] { writer->append(pixels, count); });
        });
  } catch (...) {
    writer.reset();
    throw;
  }
  writing([&] { writer->finish(key, d, skipped); });
  if (writer) {
    writer.reset();
    io::logger()->info("[data] {}: wrote cache {}", name, cache_file.string());
    if (std::optional<Dataset> cached = from_cache()) {
      with_statistics(*cached, cache_file, key);
      return std::move(*cached);
    }
    write_error = "it cannot be read back";
  }
  io::logger()->warn("[data] {}: cannot write the cache: {}; decoding into memory instead", name,
                     write_error);
  SkippedImages again;
  return decode_images(name, root, list, o, again);
}

}  // namespace moedil::data
