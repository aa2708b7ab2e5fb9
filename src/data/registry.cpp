#include "moedil/data/registry.h"

#include "moedil/common/error.h"
#include "moedil/data/cifar.h"
#include "moedil/data/idx_dataset.h"
#include "moedil/data/synthetic.h"
#if MOEDIL_WITH_OPENCV
#include "moedil/data/core50.h"
#include "moedil/data/image_folder.h"
#include "moedil/data/office_home.h"
#endif

namespace moedil::data {

namespace {

// The datasets stored as image files (imagefolder, officehome, core50) are decoded with OpenCV.
// A build without it keeps their names, so configs naming them still validate, and refuses to
// load them with a DataError that says how to get a build that can.
#if MOEDIL_WITH_OPENCV
constexpr const char* kNeedsOpenCv = "";

std::string root_or(const config::RunConfig& c, const std::string& fallback) {
  return c.dataset_root.empty() ? fallback : c.dataset_root;
}

Dataset load_image_dataset(const std::string& name, const config::RunConfig& c) {
  ImageLoadOptions o;
  o.resize = c.resize;
  o.skip_bad = c.on_bad_image == "skip";
  o.cache_dir = c.cache_dir;
  o.threads = c.num_workers > 0 ? c.num_workers : c.num_threads;
  if (name == "officehome") return load_officehome(root_or(c, "datasets"), o);
  if (name == "core50") return load_core50(root_or(c, "datasets"), c.core50_labels, o);
  return load_image_folder(name, root_or(c, "datasets/imagefolder"), o);
}
#else
constexpr const char* kNeedsOpenCv = " [not in this build: needs OpenCV]";

Dataset load_image_dataset(const std::string& name, const config::RunConfig&) {
  throw DataError("dataset '" + name +
                  "' is stored as image files, which moedil decodes with OpenCV, and this moedil "
                  "was built without OpenCV (-DMOEDIL_WITH_OPENCV=OFF). Rebuild with "
                  "-DMOEDIL_WITH_OPENCV=ON (Debian: apt-get install libopencv-dev), or use an "
                  "IDX or CIFAR dataset.");
}
#endif

}  // namespace

bool image_datasets_available() { return MOEDIL_WITH_OPENCV != 0; }

const Registry<DatasetBuilder>& dataset_registry() {
  static const Registry<DatasetBuilder> registry = [] {
    Registry<DatasetBuilder> r("dataset");
    r.add("fashion_mnist",
          "Fashion-MNIST, 70000 28x28 grey images, 10 classes (IDX, gz or raw); default root " +
              std::string(kFashionMnistDebianRoot) + " (Debian package dataset-fashion-mnist)",
          [](const config::RunConfig& c) {
            const std::string root =
                c.dataset_root.empty() ? kFashionMnistDebianRoot : c.dataset_root;
            return load_idx_dataset("fashion_mnist", root,
                                    "Install Debian's dataset-fashion-mnist "
                                    "(sudo apt-get install dataset-fashion-mnist) or set "
                                    "dataset_root to a folder holding the four IDX files.");
          });
    r.add("mnist",
          "MNIST digits, 70000 28x28 grey images, 10 classes (IDX, gz or raw); default root "
          "datasets/mnist",
          [](const config::RunConfig& c) {
            const std::string root = c.dataset_root.empty() ? "datasets/mnist" : c.dataset_root;
            return load_idx_dataset("mnist", root,
                                    "Place the four MNIST IDX files there or set dataset_root "
                                    "(see datasets/README.md).");
          });
    r.add("cifar10",
          "CIFAR-10, 60000 32x32 colour images, 10 classes (binary version); default root "
          "datasets/cifar10",
          [](const config::RunConfig& c) {
            return load_cifar10(c.dataset_root.empty() ? "datasets/cifar10" : c.dataset_root);
          });
    r.add("cifar100",
          "CIFAR-100, 60000 32x32 colour images, 100 fine or 20 coarse classes (binary version, "
          "cifar100_labels); default root datasets/cifar100",
          [](const config::RunConfig& c) {
            return load_cifar100(c.dataset_root.empty() ? "datasets/cifar100" : c.dataset_root,
                                 c.cifar100_labels);
          });
    r.add("imagefolder",
          "image folder <root>/[<domain>/][train|val|test/]<class>/*.{jpg,png,bmp} (domains when "
          "the first-level folders hold sub-folders); resize, cache_dir, on_bad_image; default "
          "root datasets/imagefolder" +
              std::string(kNeedsOpenCv),
          [](const config::RunConfig& c) { return load_image_dataset("imagefolder", c); });
    r.add("officehome",
          "OfficeHome, 15588 images, 65 classes, 4 domains (Art, Clipart, Product, Real World); "
          "set resize; default root datasets (holding OfficeHomeDataset_10072016)" +
              std::string(kNeedsOpenCv),
          [](const config::RunConfig& c) { return load_image_dataset("officehome", c); });
    r.add("core50",
          "CORe50 128x128, 11 sessions s1..s11 as domains, 50 objects or 10 categories "
          "(core50_labels); default root datasets (holding core50_128x128)" +
              std::string(kNeedsOpenCv),
          [](const config::RunConfig& c) { return load_image_dataset("core50", c); });
    r.add("synthetic",
          "generated 1x8x8 images, 4 classes, 3 domains (ids d0..d2); mini_dataset = size "
          "(default 480); for smoke tests without files",
          [](const config::RunConfig& c) {
            const int64_t size = c.mini_dataset > 0 ? c.mini_dataset : kSyntheticDefaultSize;
            return make_synthetic_dataset(size, static_cast<uint64_t>(c.seeds.dataset));
          });
    return r;
  }();
  return registry;
}

Dataset make_dataset(const config::RunConfig& c) {
  Dataset d = dataset_registry().get(c.dataset).build(c);
  if (c.dataset_split == "train") {
    if (!d.has_test_split()) {
      throw ConfigError("dataset_split: 'train' but '" + d.name +
                        "' has no training and test split of its own; use dataset_split 'all'");
    }
    d = subset(d, at::nonzero(d.is_test.to(at::kBool).logical_not()).flatten());
    d.is_test = at::Tensor();  // what is left is the training split
  }
  d = subsample(d, c.mini_dataset, static_cast<uint64_t>(c.seeds.dataset));
  // A cached image dataset used whole comes with its statistics (computed by the same function).
  if (d.mean.empty()) compute_normalisation(d);
  return d;
}

}  // namespace moedil::data
