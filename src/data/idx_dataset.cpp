#include "moedil/data/idx_dataset.h"

#include <cstring>

#include "moedil/common/error.h"
#include "moedil/data/idx.h"
#include "moedil/common/safe_file.h"

namespace moedil::data {
namespace {

std::filesystem::path find_file(const std::filesystem::path& root, const std::string& stem,
                                const std::string& hint) {
  for (const char* suffix : {".gz", ""}) {
    const std::filesystem::path p = root / (stem + suffix);
    // Anything at the name counts (a FIFO or a symlink loop too): read_idx then names the problem.
    if (path_present(p)) return p;
  }
  throw DataError("dataset file '" + (root / (stem + ".gz")).string() + "' (or '" +
                  (root / stem).string() + "') does not exist. " + hint);
}

}  // namespace

Dataset load_idx_dataset(const std::string& name, const std::filesystem::path& root,
                         const std::string& hint) {
  std::vector<IdxArray> images;
  std::vector<IdxArray> labels;
  std::vector<std::filesystem::path> image_paths;
  for (const char* split : {"train", "t10k"}) {
    const auto image_path = find_file(root, std::string(split) + "-images-idx3-ubyte", hint);
    const auto label_path = find_file(root, std::string(split) + "-labels-idx1-ubyte", hint);
    image_paths.push_back(image_path);
    images.push_back(read_idx(image_path));
    labels.push_back(read_idx(label_path));
    const IdxArray& im = images.back();
    const IdxArray& lb = labels.back();
    if (im.dims.size() != 3 || lb.dims.size() != 1 || im.dims[0] != lb.dims[0]) {
      throw DataError(image_path.string() + " and " + label_path.string() +
                      ": expected images [N, H, W] and labels [N] with the same N");
    }
    if (im.dims[1] < 1 || im.dims[2] < 1) {
      throw DataError(image_path.string() + ": declares images of " + std::to_string(im.dims[1]) +
                      "x" + std::to_string(im.dims[2]) + " pixels; each side needs at least 1");
    }
    if (im.dims[1] != images.front().dims[1] || im.dims[2] != images.front().dims[2]) {
      throw DataError(image_path.string() + ": image size differs from the train split");
    }
  }
  const int64_t height = images[0].dims[1];
  const int64_t width = images[0].dims[2];
  const int64_t n = images[0].dims[0] + images[1].dims[0];
  if (n == 0) {
    throw DataError(image_paths[0].string() + " and " + image_paths[1].string() +
                    ": declare 0 images in all; the dataset needs at least one");
  }
  Dataset d;
  d.name = name;
  d.images = at::empty({n, 1, height, width}, at::kByte);
  d.labels = at::empty({n}, at::kLong);
  uint8_t* image_out = d.images.data_ptr<uint8_t>();
  int64_t* label_out = d.labels.data_ptr<int64_t>();
  int64_t max_label = 0;
  for (std::size_t s = 0; s < images.size(); ++s) {
    std::memcpy(image_out, images[s].data.data(), images[s].data.size());
    image_out += images[s].data.size();
    for (uint8_t label : labels[s].data) {
      *label_out++ = label;
      max_label = std::max<int64_t>(max_label, label);
    }
  }
  d.num_classes = max_label + 1;
  return d;
}

}  // namespace moedil::data
