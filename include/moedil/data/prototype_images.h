#pragma once
// The images the predecessor's switch model initialised its routing prototypes from
// (model.prototype_init_dataset): in each domain folder of a root, the first image file (by
// name) of each class folder.
#include <cstdint>
#include <filesystem>

#include "moedil/data/dataset.h"

namespace moedil::data {

/// Decodes, for each domain folder of `root` (sorted by name, hidden ones left out), the first
/// image file (by name) of each of its class folders (sorted), resized to `side` x `side` like
/// the datasets (0 keeps the size, which must then be the same for all); images uint8
/// [N, 3, H, W], domain_ids and domain_names in folder order, labels the class folder's index
/// in its domain. Throws DataError naming the folder when it does not exist, has no domain
/// folder, a domain folder has no class folder or a class folder no image, or when moedil was
/// built without OpenCV.
Dataset first_image_per_class(const std::filesystem::path& root, int64_t side, int64_t threads);

}  // namespace moedil::data
