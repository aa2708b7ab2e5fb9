#pragma once
// TensorBoard event files (config `loggers: ["csv", "tensorboard"]`): scalars per epoch in
// <run dir>/tensorboard/, for `tensorboard --logdir results/`. Written by hand, no protobuf
// library: TensorBoard's format is a sequence of TFRecords, each
//   uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes,
//   `length` bytes of a serialized tensorflow.Event, uint32 masked CRC-32C of them,
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The Event fields used:
// wall_time (1, double), step (2, int64), file_version (3, string, "brain.Event:2" in the first
// record), summary (5) holding Summary.Value entries {tag (1, string), simple_value (2, float)}.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moedil::io {

/// CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of `data`, continuing `crc`.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

/// TFRecord's masked CRC-32C.
uint32_t masked_crc32c(std::string_view data);

/// One TFRecord around `payload`.
std::string tfrecord(std::string_view payload);

/// A serialized Event{wall_time, file_version: "brain.Event:2"}: an event file's first record.
std::string version_event(double wall_time);

using Scalars = std::vector<std::pair<std::string, float>>;

/// A serialized Event{wall_time, step, summary: one simple_value per (tag, value)}.
std::string scalars_event(double wall_time, int64_t step, const Scalars& scalars);

/// One event file: created with its version record; each add_scalars appends one record and
/// flushes, so TensorBoard (and tail) see each epoch as it ends.
class TensorBoardWriter {
 public:
  /// Creates `dir` if needed and a new file events.out.tfevents.<unix seconds>.<host>.<pid> in
  /// it (a resumed run starts another file; TensorBoard reads all the files of a directory).
  /// IoError when it cannot.
  explicit TensorBoardWriter(const std::filesystem::path& dir);
  void add_scalars(int64_t step, const Scalars& scalars);
  const std::filesystem::path& path() const { return path_; }

 private:
  void append(const std::string& event);
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace moedil::io
