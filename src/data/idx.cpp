#include "moedil/data/idx.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if MOEDIL_WITH_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/common/safe_file.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr uint8_t kTypeUnsignedByte = 0x08;
constexpr size_t kMaxChunk = size_t{1} << 30;       // largest single write call
constexpr size_t kReadChunk = size_t{16} << 20;     // bytes read between stop polls
constexpr size_t kInitialAlloc = size_t{64} << 20;  // data buffer grows from here if needed
constexpr int64_t kMaxElements = int64_t{1} << 40;  // sanity bound on product(dims)

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

std::string hex8(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", v & 0xffu);
  return buf;
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

[[noreturn]] void fail(const fs::path& path, const std::string& problem) {
  throw DataError(path.string() + ": " + problem);
}

/// A whole file's bytes, inflated.
struct Inflated {
  std::unique_ptr<uint8_t[]> bytes;
  size_t size = 0;
};

#if MOEDIL_WITH_LIBDEFLATE
constexpr uint64_t kMaxWholeFile = uint64_t{1} << 31;  // larger files go to the zlib stream

/// Reads all of `fd` from offset 0 into memory; nullopt when a read fails (the zlib path then
/// reports it).
std::optional<std::vector<uint8_t>> read_all(int fd, size_t size) {
  std::vector<uint8_t> in(size);
  size_t got = 0;
  while (got < size) {
    const ssize_t r = ::pread(fd, in.data() + got, size - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    got += static_cast<size_t>(r);
  }
  return in;
}

/// The gzip file on `fd` inflated in one libdeflate call, when it is one member whose trailer's
/// size (ISIZE, the size modulo 2^32) is the inflated size; nullopt for anything else (several
/// members, over 4 GiB inflated, damage, trailing bytes), which the zlib stream then reads and,
/// where there is one, names the problem of.
std::optional<Inflated> inflate_whole(const fs::path& path, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 18 || size > kMaxWholeFile) return std::nullopt;  // 18: header + trailer
  throw_if_stopped("reading " + path.string());
  std::optional<std::vector<uint8_t>> in = read_all(fd, static_cast<size_t>(size));
  if (!in) return std::nullopt;
  const uint8_t* tail = in->data() + size - 4;
  const uint64_t isize = uint64_t{tail[0]} | (uint64_t{tail[1]} << 8) | (uint64_t{tail[2]} << 16) |
                         (uint64_t{tail[3]} << 24);
  // Deflate inflates at most ~1032:1; a larger claim is damage, not a reason to allocate.
  if (isize == 0 || isize > size * 1032) return std::nullopt;
  struct Free {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
  };
  const std::unique_ptr<libdeflate_decompressor, Free> d(libdeflate_alloc_decompressor());
  if (!d) return std::nullopt;
  Inflated out;
  out.bytes.reset(new uint8_t[isize]);
  size_t in_used = 0;
  size_t out_used = 0;
  const libdeflate_result r = libdeflate_gzip_decompress_ex(
      d.get(), in->data(), in->size(), out.bytes.get(), isize, &in_used, &out_used);
  if (r != LIBDEFLATE_SUCCESS || in_used != in->size() || out_used != isize) return std::nullopt;
  out.size = out_used;
  throw_if_stopped("reading " + path.string());
  return out;
}
#endif

/// A byte source over an open file: raw reads on the descriptor, zlib decompression, or the
/// bytes of a file inflated whole.
class Source {
 public:
  Source(const fs::path& path, int fd, Inflated whole)
      : path_(path), fd_(fd), whole_(std::move(whole)) {}
  Source(const fs::path& path, int fd, bool gzip) : path_(path), fd_(fd) {
    if (gzip) {
      gz_ = ::gzdopen(fd, "rb");
      if (gz_ == nullptr) {
        ::close(fd);
        fail(path, "cannot open gzip stream (out of memory)");
      }
      fd_ = -1;  // owned by gz_ now
      ::gzbuffer(gz_, 1u << 18);
    }
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source() {
    if (gz_ != nullptr) ::gzclose(gz_);
    if (fd_ >= 0) ::close(fd_);
  }

  /// Reads up to n bytes into buf; returns fewer than n only at the end of the data.
  size_t read(uint8_t* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (stop_flag().load(std::memory_order_relaxed) != 0) {
        throw_if_stopped("reading " + path_.string());
      }
      const size_t want = std::min(n - got, kReadChunk);
      if (whole_.bytes) {
        const size_t take = std::min(want, whole_.size - whole_pos_);
        std::memcpy(buf + got, whole_.bytes.get() + whole_pos_, take);
        whole_pos_ += take;
        got += take;
        if (take < want) break;
      } else if (gz_ != nullptr) {
        const int r = ::gzread(gz_, buf + got, static_cast<unsigned>(want));
        if (r < 0) gz_fail();
        got += static_cast<size_t>(r);
        if (static_cast<size_t>(r) < want) {
          // Short read: either the clean end of the stream or an error (truncated, corrupt).
          int errnum = Z_OK;
          ::gzerror(gz_, &errnum);
          if (errnum != Z_OK) gz_fail();
          break;
        }
      } else {
        const ssize_t r = ::read(fd_, buf + got, want);
        if (r < 0) {
          if (errno == EINTR) continue;
          fail(path_, std::string("read failed: ") + std::strerror(errno));
        }
        if (r == 0) break;
        got += static_cast<size_t>(r);
      }
    }
    return got;
  }

  /// Counts the bytes left until the end of the data.
  uint64_t count_rest() {
    uint8_t buf[1 << 16];
    uint64_t total = 0;
    for (;;) {
      const size_t r = read(buf, sizeof(buf));
      total += r;
      if (r < sizeof(buf)) return total;
    }
  }

 private:
  [[noreturn]] void gz_fail() {
    int errnum = Z_OK;
    const char* msg = ::gzerror(gz_, &errnum);
    std::string what = msg != nullptr && *msg != '\0' ? msg : "unknown error";
    // zlib prefixes the message with the stream's name, "<fd:N>: " for gzdopen; drop it.
    if (what.rfind("<fd:", 0) == 0) {
      const size_t colon = what.find(">: ");
      if (colon != std::string::npos) what.erase(0, colon + 3);
    }
    if (errnum == Z_ERRNO) what = std::strerror(errno);
    if (errnum == Z_BUF_ERROR) {
      fail(path_, "gzip stream is truncated (" + what + ")");
    }
    fail(path_, "gzip decompression failed: " + what);
  }

  fs::path path_;
  int fd_ = -1;
  gzFile gz_ = nullptr;
  Inflated whole_;
  size_t whole_pos_ = 0;
};

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

/// Checks `a` and returns its header bytes.
std::vector<uint8_t> make_header(const fs::path& path, const IdxArray& a) {
  if (a.dims.empty() || a.dims.size() > 4) {
    throw DataError(path.string() + ": cannot write IDX: " + std::to_string(a.dims.size()) +
                    " dims, expected 1..4");
  }
  std::vector<uint8_t> header(4 + 4 * a.dims.size());
  header[2] = kTypeUnsignedByte;
  header[3] = static_cast<uint8_t>(a.dims.size());
  uint64_t product = 1;
  for (size_t i = 0; i < a.dims.size(); ++i) {
    const int64_t d = a.dims[i];
    if (d < 0 || d > std::numeric_limits<int32_t>::max()) {
      throw DataError(path.string() + ": cannot write IDX: dim " + std::to_string(i) + " = " +
                      std::to_string(d) + " is not in 0..2147483647");
    }
    if (d != 0 && product > static_cast<uint64_t>(kMaxElements / d)) {
      throw DataError(path.string() + ": cannot write IDX: product of dims exceeds 2^40");
    }
    product *= static_cast<uint64_t>(d);
    store_be32(&header[4 + 4 * i], static_cast<uint32_t>(d));
  }
  if (product != a.data.size()) {
    throw DataError(path.string() + ": cannot write IDX: data has " +
                    std::to_string(a.data.size()) + " bytes, product of dims is " +
                    std::to_string(product));
  }
  return header;
}

}  // namespace

bool idx_whole_file_inflater_available() { return MOEDIL_WITH_LIBDEFLATE != 0; }

IdxArray read_idx(const fs::path& path, IdxInflater* used) {
  // Refuses a FIFO, device or directory at once (a FIFO would block the open forever).
  const int fd = InputFile(path).release();
  uint8_t probe[2] = {0, 0};
  ssize_t probed;
  do {
    probed = ::pread(fd, probe, 2, 0);
  } while (probed < 0 && errno == EINTR);
  if (probed < 0) {
    const int err = errno;
    ::close(fd);
    fail(path, std::string("read failed: ") + std::strerror(err));
  }
  const bool gzip = probed == 2 && probe[0] == 0x1f && probe[1] == 0x8b;
  std::optional<Inflated> whole;
#if MOEDIL_WITH_LIBDEFLATE
  if (gzip) {
    try {
      whole = inflate_whole(path, fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
  }
#endif
  if (used != nullptr) {
    *used = !gzip ? IdxInflater::raw : whole ? IdxInflater::whole_file : IdxInflater::zlib_stream;
  }
  Source src = whole ? Source(path, fd, std::move(*whole)) : Source(path, fd, gzip);
  const std::string what = gzip ? "decompressed data" : "file";

  uint8_t head[4 + 16];
  const size_t got_magic = src.read(head, 4);
  if (got_magic < 4) {
    fail(path, "truncated: " + what + " has " + std::to_string(got_magic) +
                   " bytes, an IDX header needs at least 4");
  }
  const uint32_t magic = load_be32(head);
  const unsigned type = head[2];
  const unsigned ndim = head[3];
  if (head[0] != 0 || head[1] != 0) {
    fail(path, "bad IDX magic " + hex32(magic) +
                   ": expected 0x00 0x00 <type> <ndim> (is this an IDX file?)");
  }
  if (type != kTypeUnsignedByte) {
    fail(path, "bad IDX magic " + hex32(magic) + " expected type 0x08 (unsigned byte), got " +
                   hex8(type) + " (only unsigned-byte IDX is supported)");
  }
  if (ndim < 1 || ndim > 4) {
    fail(path, "bad IDX magic " + hex32(magic) + ": ndim " + std::to_string(ndim) +
                   " is not in 1..4");
  }
  const size_t dims_bytes = 4 * size_t{ndim};
  const size_t got_dims = src.read(head + 4, dims_bytes);
  if (got_dims < dims_bytes) {
    fail(path, "truncated: IDX header with " + std::to_string(ndim) + " dims needs " +
                   std::to_string(4 + dims_bytes) + " bytes, " + what + " has " +
                   std::to_string(4 + got_dims));
  }

  IdxArray a;
  a.dims.reserve(ndim);
  int64_t expected = 1;
  for (unsigned i = 0; i < ndim; ++i) {
    const uint32_t raw = load_be32(head + 4 + 4 * i);
    if (raw > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
      fail(path, "bad IDX dim " + std::to_string(i) + ": " + hex32(raw) + " is negative");
    }
    const int64_t d = static_cast<int64_t>(raw);
    a.dims.push_back(d);
    if (d != 0 && expected > kMaxElements / d) {
      fail(path, "bad IDX dims: product exceeds 2^40 elements");
    }
    expected *= d;
  }

  // Grow the buffer in steps so that a corrupt header on a small file cannot force a huge
  // allocation; real files fit in the first step and are read with one big read.
  const size_t total = static_cast<size_t>(expected);
  size_t got = 0;
  a.data.resize(std::min(total, kInitialAlloc));
  for (;;) {
    const size_t r = src.read(a.data.data() + got, a.data.size() - got);
    got += r;
    if (got < a.data.size() || got == total) break;
    a.data.resize(std::min(total, a.data.size() * 2));
  }
  if (got < total) {
    fail(path, "truncated: expected " + std::to_string(total) + " data bytes (dims " +
                   dims_string(a.dims) + "), got " + std::to_string(got));
  }
  const uint64_t trailing = src.count_rest();
  if (trailing > 0) {
    fail(path, std::to_string(trailing) + " trailing bytes after the " + std::to_string(total) +
                   " data bytes (dims " + dims_string(a.dims) + ")");
  }
  return a;
}

void write_idx(const fs::path& path, const IdxArray& a, bool gzip) {
  const std::vector<uint8_t> header = make_header(path, a);
  if (gzip) {
    gzFile gz = ::gzopen(path.c_str(), "wb");
    if (gz == nullptr) {
      const int err = errno;
      throw IoError(path.string() + ": cannot open for writing: " +
                    (err != 0 ? std::strerror(err) : "out of memory"));
    }
    auto put = [&](const uint8_t* p, size_t n) {
      while (n > 0) {
        const unsigned want = static_cast<unsigned>(std::min(n, kMaxChunk));
        if (::gzwrite(gz, p, want) != static_cast<int>(want)) {
          int errnum = Z_OK;
          std::string msg = ::gzerror(gz, &errnum);
          if (errnum == Z_ERRNO) msg = std::strerror(errno);
          ::gzclose(gz);
          ::unlink(path.c_str());
          throw IoError(path.string() + ": gzip write failed: " + msg);
        }
        p += want;
        n -= want;
      }
    };
    put(header.data(), header.size());
    put(a.data.data(), a.data.size());
    const int rc = ::gzclose(gz);
    if (rc != Z_OK) {
      const std::string msg = rc == Z_ERRNO ? std::strerror(errno) : "zlib error";
      ::unlink(path.c_str());
      throw IoError(path.string() + ": gzip close failed: " + msg);
    }
    return;
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    throw IoError(path.string() + ": cannot open for writing: " + std::strerror(errno));
  }
  const bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
                  (a.data.empty() ||
                   std::fwrite(a.data.data(), 1, a.data.size(), f) == a.data.size());
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    const int e = ok ? errno : err;
    ::unlink(path.c_str());
    throw IoError(path.string() + ": write failed: " + std::strerror(e));
  }
}

}  // namespace moedil::data
