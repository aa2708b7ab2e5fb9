#pragma once
// Reader and writer for the IDX format of MNIST / Fashion-MNIST, raw or gzip-compressed.
// Layout: magic 0x00 0x00 <type code> <ndim>, then ndim big-endian int32 dims, then the data in
// row-major order. Only the unsigned-byte type (code 0x08) is supported.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace moedil::data {

/// An unsigned-byte IDX array: its dims and its data in row-major order.
struct IdxArray {
  std::vector<int64_t> dims;  ///< 1 to 4 dims, e.g. {60000} labels or {60000, 28, 28} images
  std::vector<uint8_t> data;  ///< product(dims) bytes
};

/// How read_idx got the bytes of a file.
enum class IdxInflater {
  raw,         ///< not gzip-compressed: read as it is
  whole_file,  ///< gzip, inflated in one call by libdeflate (1.2-2.6x zlib's speed measured)
  zlib_stream  ///< gzip, inflated by zlib as a stream
};

/// Whether this build has the whole-file inflater (built with libdeflate).
bool idx_whole_file_inflater_available();

/// Reads the IDX file at `path`. A file starting with the gzip magic 1f 8b is decompressed, any
/// other file is read raw. A gzip file of one member whose trailer gives its size is inflated
/// whole by libdeflate when the build has it; any other (several members, a size over 4 GiB, a
/// damaged stream) by zlib as a stream, which also names any problem. Checks the magic (0x00
/// 0x00 0x08 <ndim>, ndim 1..4), reads the big-endian int32 dims and requires exactly
/// product(dims) data bytes. Throws moedil::DataError naming the path and the problem: a
/// missing file, a bad magic or type code, a truncated file, trailing bytes, a corrupt gzip
/// stream. `used`, when given, says how the bytes were read.
IdxArray read_idx(const std::filesystem::path& path, IdxInflater* used = nullptr);

/// Writes `a` as an unsigned-byte IDX file at `path`, gzip-compressed if `gzip` (for tests and
/// fixtures). Throws moedil::DataError if `a` is not a valid array (1..4 dims, each in
/// 0..INT32_MAX, data size == product of dims) and moedil::IoError if the file cannot be written.
void write_idx(const std::filesystem::path& path, const IdxArray& a, bool gzip);

}  // namespace moedil::data
