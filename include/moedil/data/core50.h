#pragma once
// The CORe50 dataset (50 objects in 10 categories, filmed in 11 sessions), stored as image
// files; decoded by data/image_decoder.h and cached by data/image_cache.h.
#include <filesystem>
#include <string>

#include "moedil/data/dataset.h"
#include "moedil/data/image_load_options.h"

namespace moedil::data {

/// CORe50 (128x128 version): `<root>/core50_128x128/s1..s11/o1..o50/*.png` (or root pointing at
/// core50_128x128). Domains are the sessions in numeric order (s1, s2, ..., s10, s11), named
/// "s<k>". `labels`: "object" -> label = object id - 1 (50 classes, names "o1".."o50");
/// "category" -> label = (object id - 1) / 5 (10 classes: plug_adapter, mobile_phone, scissors,
/// light_bulb, can, glasses, ball, marker, cup, remote_control). Throws DataError, and
/// ConfigError for another `labels` value.
Dataset load_core50(const std::filesystem::path& root, const std::string& labels,
                    const ImageLoadOptions& o);

}  // namespace moedil::data
