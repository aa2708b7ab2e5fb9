#pragma once
// NumPy .npy files (format version 1.0), written without torch so that any tool reads what
// moedil exports: numpy.load(path) gives the array back with its dtype and shape.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace moedil::io {

/// The element types moedil exports, with their NumPy descriptors (little-endian).
enum class NpyType { Float32, Int64, UInt8 };

/// "<f4", "<i8" or "|u1".
std::string npy_descr(NpyType type);
/// Bytes of one element: 4, 8 or 1.
std::size_t npy_item_size(NpyType type);

/// The complete .npy header for an array of `type` and C-order `shape` (magic, version 1.0,
/// the dict padded with spaces so the data starts at a multiple of 64 bytes, newline).
std::string npy_header(NpyType type, const std::vector<int64_t>& shape);

/// Writes `data` (the product of `shape` elements of `type`, C order, little-endian) to `path`
/// as a .npy file, atomically. Throws IoError naming the path; std::invalid_argument when the
/// byte count does not match the shape.
void write_npy(const std::filesystem::path& path, NpyType type, const std::vector<int64_t>& shape,
               const void* data, std::size_t bytes);

}  // namespace moedil::io
