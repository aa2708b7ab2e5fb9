#pragma once
// The decoded-image cache: a binary file per dataset, keyed by a hash of everything the decoded
// images depend on (root, options, every file's path, size and modification time), so a changed
// folder is decoded again. A damaged or foreign cache file is ignored with a warning, never
// trusted.
#include <filesystem>
#include <optional>
#include <string>

#include "moedil/data/dataset.h"
#include "moedil/data/image_decoder.h"
#include "moedil/data/image_files.h"
#include "moedil/data/image_load_options.h"

namespace moedil::data {

/// Hash of everything the decoded dataset depends on, as 16 hex digits. `extra` is the
/// loader's own options (e.g. CORe50's labels).
std::string image_cache_key(const std::string& name, const std::filesystem::path& root,
                            const std::string& extra, const ImageFileList& list,
                            const ImageLoadOptions& o);

/// Writes `d` (and the images skipped while decoding it) to `file` atomically, under `key`.
/// Throws IoError.
void write_image_cache(const std::filesystem::path& file, const std::string& key,
                       const Dataset& d, const SkippedImages& skipped);

/// The dataset stored in `file` when it is a valid cache for `key` (and the images skipped when
/// it was decoded, in `skipped`); std::nullopt (with a warning for a damaged file) otherwise.
std::optional<Dataset> read_image_cache(const std::filesystem::path& file,
                                        const std::string& key, SkippedImages& skipped);

/// Decodes `list`, or reads it from o.cache_dir when a cache for exactly these files exists
/// (and writes one after decoding; a cache that cannot be written is a warning). `extra` is
/// the loader's own options (part of the key).
Dataset load_image_files(const std::string& name, const std::filesystem::path& root,
                         const std::string& extra, const ImageFileList& list,
                         const ImageLoadOptions& o);

}  // namespace moedil::data
