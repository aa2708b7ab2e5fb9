#pragma once
// How many images of which shape a config's dataset has, from the files' headers, sizes and
// listings alone: nothing is decoded (except one image of an image folder without `resize`),
// so the memory a run needs can be judged before the dataset is loaded. Torch-free.
#include <cstdint>

#include "moedil/config/run_config.h"

namespace moedil::data {

struct DatasetExtent {
  double images = 0;  ///< samples kept after mini_dataset
  int64_t channels = 1;
  int64_t height = 28;  ///< after `resize` where the dataset applies it
  int64_t width = 28;
  int64_t num_classes = 10;
  /// True when images and shape were read from the dataset's files; false when the files are
  /// missing or unreadable and the dataset's nominal size is used instead (the loader then
  /// reports the problem when the run starts).
  bool from_files = false;

  /// Bytes of the uint8 image tensor [images, channels, height, width].
  double bytes() const {
    return images * static_cast<double>(channels) * static_cast<double>(height) *
           static_cast<double>(width);
  }
};

/// The extent of c's dataset (c.dataset, c.dataset_root, c.resize, c.mini_dataset and the
/// label options): IDX headers (mnist, fashion_mnist), file sizes (cifar10, cifar100), the
/// image files below the root (imagefolder, officehome, core50) or the generator's size
/// (synthetic). Never throws for missing or bad files and never opens anything but regular
/// files (a FIFO named like a dataset file is not read).
DatasetExtent dataset_extent(const config::RunConfig& c);

}  // namespace moedil::data
