#pragma once
// How the datasets stored as folders of image files (image_folder, office_home, core50) are
// decoded and cached: the options the image decoder and the image cache share.
#include <cstdint>
#include <string>

namespace moedil::data {

/// How image files are decoded (RunConfig: resize, on_bad_image, cache_dir, num_threads).
struct ImageLoadOptions {
  /// Square side every image is resized to (cv::INTER_AREA, aspect ratio not kept). 0 keeps the
  /// decoded size; then every image must have the same size, else DataError naming two files.
  int64_t resize = 0;
  /// true: an image that cannot be decoded is dropped (counted and logged); false: DataError.
  bool skip_bad = false;
  /// Folder of decoded-dataset caches ("" = no cache). The cache file is
  /// `<cache_dir>/<name>-<key>.bin`; the key hashes the root, the options and every image file's
  /// path, size and modification time, so a changed folder is decoded again.
  std::string cache_dir;
  /// Decoding threads; 0 = all cores.
  int64_t threads = 0;
};

}  // namespace moedil::data
