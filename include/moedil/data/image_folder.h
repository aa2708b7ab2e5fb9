#pragma once
// Datasets stored as a generic folder of image files (jpg, jpeg, png, bmp):
// `<root>/[<domain>/][train|val|test/]<class>/*`. Images are decoded by the image decoder
// (data/image_decoder.h) and can be cached (data/image_cache.h).
#include <filesystem>
#include <string>

#include "moedil/data/dataset.h"
#include "moedil/data/image_load_options.h"

namespace moedil::data {

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

}  // namespace moedil::data
