#pragma once
// Decodes the image files of an ImageFileList with OpenCV, on several threads, into one uint8
// RGB tensor: resized or all of one size, bad images dropped or refused, deterministic results
// and messages whatever the number of threads.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "moedil/data/dataset.h"
#include "moedil/data/image_files.h"
#include "moedil/data/image_load_options.h"

namespace moedil::data {

/// The images left out because they could not be decoded (ImageLoadOptions::skip_bad).
struct SkippedImages {
  int64_t count = 0;
  std::string example;  ///< the first one's path ("" when none)
};

/// Decodes list.files (on o.threads threads) into a Dataset named `name`: images uint8
/// [N, 3, H, W] (RGB), labels, domain ids and test flags from the list. Unreadable images are
/// dropped when o.skip_bad (their count and an example are added to `skipped` and logged);
/// otherwise the first one in file order is a DataError. Images of different sizes without
/// o.resize are a DataError naming two of them; so are a list without images and a list none
/// of whose images can be decoded. A stop request ends decoding with InterruptedError. `root`
/// is only named in messages.
Dataset decode_images(const std::string& name, const std::filesystem::path& root,
                      const ImageFileList& list, const ImageLoadOptions& o,
                      SkippedImages& skipped);

/// Told the image size (height, width) once, before the first chunk.
using ImageShapeSink = std::function<void(int64_t height, int64_t width)>;
/// Receives `count` decoded images (uint8 RGB planes, [count, 3, H, W] contiguous) in file order,
/// the unreadable ones left out; the pixels are only valid during the call.
using ImageChunkSink = std::function<void(const uint8_t* pixels, int64_t count)>;

/// decode_images without holding the images: they are decoded about 64 MiB at a time and each
/// chunk is handed to `sink`, so a dataset larger than memory can be written to disk. Returns the
/// Dataset with everything but `images` (labels, domain ids, test flags, names).
Dataset decode_images_streamed(const std::string& name, const std::filesystem::path& root,
                               const ImageFileList& list, const ImageLoadOptions& o,
                               SkippedImages& skipped, const ImageShapeSink& begin,
                               const ImageChunkSink& sink);

}  // namespace moedil::data
