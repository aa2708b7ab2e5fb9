#include "moedil/io/npy.h"

#include <stdexcept>

#include "moedil/io/atomic_file.h"

namespace moedil::io {

std::string npy_descr(NpyType type) {
  switch (type) {
    case NpyType::Float32: return "<f4";
    case NpyType::Int64: return "<i8";
    case NpyType::UInt8: return "|u1";
  }
  return "";
}

std::size_t npy_item_size(NpyType type) {
  switch (type) {
    case NpyType::Float32: return 4;
    case NpyType::Int64: return 8;
    case NpyType::UInt8: return 1;
  }
  return 0;
}

std::string npy_header(NpyType type, const std::vector<int64_t>& shape) {
  std::string dims;
  for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";  // a Python 1-tuple
  std::string dict = "{'descr': '" + npy_descr(type) + "', 'fortran_order': False, 'shape': (" +
                     dims + "), }";
  // magic (6) + version (2) + header length (2) + dict + padding + '\n' = multiple of 64.
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw std::invalid_argument("npy header too long");
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>((dict.size() >> 8) & 0xff);
  return header + dict;
}

void write_npy(const std::filesystem::path& path, NpyType type, const std::vector<int64_t>& shape,
               const void* data, std::size_t bytes) {
  std::size_t count = 1;
  for (const int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("npy shape has a negative dimension");
    count *= static_cast<std::size_t>(d);
  }
  if (count * npy_item_size(type) != bytes) {
    throw std::invalid_argument("npy data of " + std::to_string(bytes) + " bytes does not fit its shape");
  }
  std::string content = npy_header(type, shape);
  content.append(static_cast<const char*>(data), bytes);
  write_file_atomic(path, content);
}

}  // namespace moedil::io
