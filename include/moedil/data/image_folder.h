#pragma once
// Datasets stored as folders of image files (jpg, jpeg, png, bmp): a generic
// `<root>/[<domain>/][train|val|test/]<class>/*` layout, OfficeHome and CORe50. Images are
// decoded with OpenCV on all cores into one uint8 RGB tensor and can be cached in a binary file
// that is rebuilt whenever the image folder changes.
#include <cstdint>
#include <filesystem>
#include <string>

#include "moedil/data/dataset.h"

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

/// Loads `<root>/<domain>/<class>/*` (domains: the first-level folders, when they hold
/// sub-folders) or `<root>/<class>/*` (no domains). `train` and `val` (or `test`) folders are
/// accepted directly under root or under each domain; then is_test (bool [N]) marks the
/// val/test images. Classes are the sorted union of the class folder names (so labels match
/// torchvision's ImageFolder); domains are sorted by name. Samples are ordered by domain, then
/// train before val/test, then class, then file name. Every domain must have the same class
/// folders. Hidden entries (".*") and __MACOSX folders are ignored. Result: images uint8
/// [N, 3, H, W] (RGB), labels int64 [N], class_names, num_classes, and domain_ids int64 [N] /
/// domain_names when there are domains. `name` names the dataset and its cache file. Throws
/// DataError (missing root, bad layout, unreadable image, sizes differ, ...).
Dataset load_image_folder(const std::string& name, const std::filesystem::path& root,
                          const ImageLoadOptions& o);

/// OfficeHome: `<root>/OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}/<65 classes>/`
/// (the doubled `OfficeHomeDataset_10072016/OfficeHomeDataset_10072016/` of the official zip
/// and root pointing directly at the folder holding the domain folders are accepted too).
/// Domain ids 0..3 in the order Art, Clipart, Product, Real World; classes sorted by name.
/// Images differ in size, so set `resize`. Throws DataError.
Dataset load_officehome(const std::filesystem::path& root, const ImageLoadOptions& o);

/// CORe50 (128x128 version): `<root>/core50_128x128/s1..s11/o1..o50/*.png` (or root pointing at
/// core50_128x128). Domains are the sessions in numeric order (s1, s2, ..., s10, s11), named
/// "s<k>". `labels`: "object" -> label = object id - 1 (50 classes, names "o1".."o50");
/// "category" -> label = (object id - 1) / 5 (10 classes: plug_adapter, mobile_phone, scissors,
/// light_bulb, can, glasses, ball, marker, cup, remote_control). Throws DataError, and
/// ConfigError for another `labels` value.
Dataset load_core50(const std::filesystem::path& root, const std::string& labels,
                    const ImageLoadOptions& o);

}  // namespace moedil::data
