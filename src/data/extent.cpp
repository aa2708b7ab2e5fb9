#include "moedil/data/extent.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#if MOEDIL_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

#include "moedil/common/ascii.h"
#include "moedil/data/idx_dataset.h"
#include "moedil/data/synthetic.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

bool regular_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool directory(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

/// Dimensions of an unsigned-byte IDX file (raw or gzip: zlib reads both), empty on failure.
std::vector<int64_t> idx_dims(const fs::path& path) {
  if (!regular_file(path)) return {};
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return {};
  std::array<unsigned char, 4 + 4 * 4> header{};
  const int got = gzread(file, header.data(), 4);
  std::vector<int64_t> dims;
  if (got == 4 && header[0] == 0 && header[1] == 0 && header[2] == 0x08 && header[3] >= 1 &&
      header[3] <= 4) {
    const int ndim = header[3];
    if (gzread(file, header.data() + 4, static_cast<unsigned>(4 * ndim)) == 4 * ndim) {
      for (int k = 0; k < ndim; ++k) {
        const unsigned char* b = header.data() + 4 + 4 * k;
        dims.push_back((int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) |
                       int64_t{b[3]});
      }
    }
  }
  gzclose(file);
  return dims;
}

/// `root/stem.gz` or `root/stem`, as the IDX loader looks for them.
fs::path idx_file(const fs::path& root, const std::string& stem) {
  const fs::path gz = root / (stem + ".gz");
  return regular_file(gz) ? gz : root / stem;
}

DatasetExtent idx_extent(const fs::path& root) {
  DatasetExtent e;  // nominal: 70000 grey 28x28 images of 10 classes
  e.images = 70000;
  std::vector<int64_t> train = idx_dims(idx_file(root, "train-images-idx3-ubyte"));
  std::vector<int64_t> test = idx_dims(idx_file(root, "t10k-images-idx3-ubyte"));
  if (train.size() == 3 && test.size() == 3) {
    e.images = static_cast<double>(train[0] + test[0]);
    e.height = train[1];
    e.width = train[2];
    e.from_files = true;
  }
  return e;
}

/// CIFAR binary files: whole records of `record` bytes; the count from the file sizes.
DatasetExtent cifar_extent(const fs::path& root, const std::string& nested,
                           const std::vector<std::string>& files, double record,
                           int64_t num_classes) {
  DatasetExtent e;
  e.images = 60000;
  e.channels = 3;
  e.height = 32;
  e.width = 32;
  e.num_classes = num_classes;
  for (const fs::path& base : {root, root / nested}) {
    double bytes = 0;
    bool all = true;
    for (const std::string& name : files) {
      std::error_code ec;
      const auto size = regular_file(base / name) ? fs::file_size(base / name, ec) : 0;
      if (ec || size == 0) {
        all = false;
        break;
      }
      bytes += static_cast<double>(size);
    }
    if (all) {
      e.images = std::floor(bytes / record);
      e.from_files = true;
      break;
    }
  }
  return e;
}

bool image_name(const fs::path& p) {
  const std::string ext = ascii_lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

/// The image files below `base` (hidden entries and __MACOSX left out, as the loader does):
/// their number, the names of the folders holding them (the classes) and the first one.
struct ImageFiles {
  double count = 0;
  std::set<std::string> folders;
  fs::path first;
};

ImageFiles list_images(const fs::path& base) {
  ImageFiles out;
  std::error_code ec;
  fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || name == "__MACOSX") {
      if (directory(it->path())) it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || !image_name(it->path())) continue;
    if (out.count == 0) out.first = it->path();
    out.count += 1;
    const std::string folder = it->path().parent_path().filename().string();
    if (folder != "train" && folder != "val" && folder != "test") out.folders.insert(folder);
  }
  return out;
}

/// An image folder dataset: 3 colour channels at `resize`, or at the size of its first image.
DatasetExtent folder_extent(const fs::path& base, int64_t resize, double nominal_images,
                            int64_t nominal_side, int64_t nominal_classes) {
  DatasetExtent e;
  e.channels = 3;
  e.images = nominal_images;
  e.height = e.width = resize > 0 ? resize : nominal_side;
  e.num_classes = nominal_classes;
  if (!directory(base)) return e;
  const ImageFiles files = list_images(base);
  if (files.count == 0) return e;
  e.images = files.count;
  e.num_classes = std::max<int64_t>(1, static_cast<int64_t>(files.folders.size()));
  e.from_files = true;
#if MOEDIL_WITH_OPENCV
  if (resize == 0) {
    const cv::Mat first = cv::imread(files.first.string(), cv::IMREAD_COLOR);
    if (!first.empty()) {
      e.height = first.rows;
      e.width = first.cols;
    }
  }
#endif
  // (A build without OpenCV keeps the nominal side: it refuses to load image folders anyway.)
  return e;
}

fs::path root_or(const config::RunConfig& c, const char* fallback) {
  return c.dataset_root.empty() ? fs::path(fallback) : fs::path(c.dataset_root);
}

}  // namespace

DatasetExtent dataset_extent(const config::RunConfig& c) {
  DatasetExtent e;
  // Default roots as in the dataset registry (data/registry.cpp).
  if (c.dataset == "fashion_mnist") {
    e = idx_extent(root_or(c, kFashionMnistDebianRoot));
  } else if (c.dataset == "mnist") {
    e = idx_extent(root_or(c, "datasets/mnist"));
  } else if (c.dataset == "cifar10") {
    e = cifar_extent(root_or(c, "datasets/cifar10"), "cifar-10-batches-bin",
                     {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                      "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"},
                     1 + 3072, 10);
  } else if (c.dataset == "cifar100") {
    e = cifar_extent(root_or(c, "datasets/cifar100"), "cifar-100-binary",
                     {"train.bin", "test.bin"}, 2 + 3072, c.cifar100_labels == "coarse" ? 20 : 100);
  } else if (c.dataset == "imagefolder") {
    e = folder_extent(root_or(c, "datasets/imagefolder"), c.resize, 0, 32, 10);
  } else if (c.dataset == "officehome") {
    const fs::path root = root_or(c, "datasets");
    const fs::path top = root / "OfficeHomeDataset_10072016";
    const fs::path base = directory(top / "OfficeHomeDataset_10072016")
                              ? top / "OfficeHomeDataset_10072016"
                              : directory(top) ? top : root;
    // A root that is not OfficeHome's folder would count whatever else lies there.
    const bool found = base != root || directory(root / "Art");
    e = folder_extent(found ? base : fs::path(), c.resize, 15588, 224, 65);
    e.num_classes = 65;
  } else if (c.dataset == "core50") {
    const fs::path root = root_or(c, "datasets");
    const fs::path base =
        directory(root / "core50_128x128") ? root / "core50_128x128" : root;
    const bool found = base != root || directory(root / "s1");
    e = folder_extent(found ? base : fs::path(), c.resize, 164866, 128, 50);
    e.num_classes = c.core50_labels == "category" ? 10 : 50;
  } else if (c.dataset == "synthetic") {
    e.images = static_cast<double>(c.mini_dataset > 0 ? c.mini_dataset : kSyntheticDefaultSize);
    e.channels = 1;
    e.height = e.width = kSyntheticSide;
    e.num_classes = kSyntheticClasses;
    e.from_files = true;
  } else {
    e.images = 0;  // a dataset without an extent: only the model is judged
  }
  if (c.mini_dataset > 0) e.images = std::min(e.images, static_cast<double>(c.mini_dataset));
  return e;
}

}  // namespace moedil::data
