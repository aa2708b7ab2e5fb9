#pragma once
// The OfficeHome dataset (four domains of 65 office and home object classes), stored as image
// files; decoded by data/image_decoder.h and cached by data/image_cache.h.
#include <filesystem>

#include "moedil/data/dataset.h"
#include "moedil/data/image_load_options.h"

namespace moedil::data {

/// OfficeHome: `<root>/OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}/<65 classes>/`
/// (the doubled `OfficeHomeDataset_10072016/OfficeHomeDataset_10072016/` of the official zip
/// and root pointing directly at the folder holding the domain folders are accepted too).
/// Domain ids 0..3 in the order Art, Clipart, Product, Real World; classes sorted by name.
/// Images differ in size, so set `resize`. Throws DataError.
Dataset load_officehome(const std::filesystem::path& root, const ImageLoadOptions& o);

}  // namespace moedil::data
