#pragma once
// The decoded-image cache: a binary file per dataset, keyed by a hash of everything the decoded
// images depend on (root, options, every file's path, size and modification time), so a changed
// folder is decoded again. A damaged or foreign cache file is ignored with a warning, never
// trusted. The images of a cached dataset are not read into memory: the file is memory-mapped
// (read-only), so a run's resident memory grows with the images it touches and the kernel may
// drop those pages again; a dataset larger than memory (CORe50 at 224x224, ~25 GB) trains.
// Deleting a cache file under a running process is safe (the mapping keeps it); truncating or
// overwriting it in place (`cp x cache.bin`, `> cache.bin`) crashes the process with SIGBUS.
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

/// The dataset stored in `file` when it is a valid cache for `key` (and the images skipped when
/// it was decoded, in `skipped`); std::nullopt (with a warning for a damaged file) otherwise.
/// Its `images` tensor is a read-only mapping of the file (writing to it is a crash; copy first),
/// kept alive by the tensor and its views.
std::optional<Dataset> read_image_cache(const std::filesystem::path& file,
                                        const std::string& key, SkippedImages& skipped);

/// Decodes `list`, or maps it from o.cache_dir when a cache for exactly these files exists.
/// Without one, the images are decoded straight into a new cache file (a chunk at a time, never
/// all in memory) which is then mapped; a cache that cannot be written is a warning and the
/// images are decoded into memory. Without o.cache_dir, into memory. `extra` is the loader's own
/// options (part of the key). A dataset from the cache comes with its normalisation statistics
/// (mean, stddev), computed once by compute_normalisation and kept in `<cache file>.stats`, so a
/// run does not read every image again for them.
Dataset load_image_files(const std::string& name, const std::filesystem::path& root,
                         const std::string& extra, const ImageFileList& list,
                         const ImageLoadOptions& o);

}  // namespace moedil::data
