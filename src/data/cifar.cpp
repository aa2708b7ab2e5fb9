#include "moedil/data/cifar.h"

#include <cstring>
#include <sstream>
#include <system_error>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/common/safe_file.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kChannels = 3;
constexpr int64_t kSide = 32;
constexpr int64_t kPixelBytes = kChannels * kSide * kSide;  // 3072

/// What differs between CIFAR-10 and CIFAR-100 (binary versions).
struct Format {
  std::string title;                     ///< "CIFAR-10", for messages
  std::string archive;                   ///< archive of the binary version, for messages
  std::string nested;                    ///< folder the archive unpacks to
  std::vector<std::string> train_files;  ///< in load order
  std::vector<std::string> test_files;
  std::string names_file;                   ///< class names, one per line (optional)
  std::vector<std::string> optional_files;  ///< for the layout message
  /// One entry per label byte at the start of a record, in file order.
  std::vector<std::string> label_names;  ///< "label" / "coarse label", "fine label"
  std::vector<int64_t> label_limits;     ///< each label byte must be < its limit
  std::size_t used_label = 0;            ///< which label byte becomes Dataset::labels
  /// Names that, found in root, mean the user unpacked the Python (pickle) version.
  std::vector<std::string> python_markers;
  std::string python_archive;

  int64_t record_bytes() const { return static_cast<int64_t>(label_limits.size()) + kPixelBytes; }
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

/// The expected layout, spelled out so that a user sees what to put where.
std::string layout_message(const Format& f, const fs::path& root) {
  std::string msg = "Expected the binary version of " + f.title + " (" + f.archive +
                    ") with these files in '" + root.string() + "': " + join(f.train_files, ", ") +
                    " (train), " + join(f.test_files, ", ") + " (test), and optionally " +
                    join(f.optional_files, ", ") + " (class names, one per line); the folder " +
                    f.nested + "/ that the archive unpacks to is also accepted inside it.";
  for (const std::string& marker : f.python_markers) {
    std::error_code ec;
    if (fs::exists(root / marker, ec)) {
      msg += " Found '" + (root / marker).string() + "': that is the Python version (" +
             f.python_archive + "), which is not read; download " + f.archive + " instead.";
      break;
    }
  }
  return msg;
}

/// root itself when it holds the first train file, else root/nested when that folder exists
/// (the unpacked archive), else root (the missing-file error then names root's files).
fs::path data_folder(const Format& f, const fs::path& root) {
  std::error_code ec;
  if (path_present(root / f.train_files.front())) return root;
  if (fs::is_directory(root / f.nested, ec)) return root / f.nested;
  return root;
}

/// Number of whole records in `path`; throws DataError when it is missing, empty or holds a
/// partial record.
int64_t count_records(const Format& f, const fs::path& root, const fs::path& path) {
  if (!path_present(path)) {
    throw DataError(f.title + ": dataset file '" + path.string() + "' does not exist. " +
                    layout_message(f, root));
  }
  // Names a FIFO, a directory or a symlink loop at the name (and never blocks on a FIFO).
  const uint64_t size = InputFile(path).size();
  const auto record = static_cast<uint64_t>(f.record_bytes());
  if (size == 0) {
    throw DataError(path.string() + ": the file is empty (expected " + f.title + " records of " +
                    std::to_string(record) + " bytes)");
  }
  if (size % record != 0) {
    throw DataError(path.string() + ": " + std::to_string(size) +
                    " bytes is not a whole number of " + std::to_string(record) +
                    "-byte records (a truncated download, or not the " + f.title +
                    " binary version?)");
  }
  return static_cast<int64_t>(size / record);
}

/// Reads `path` whole into `buffer` (resized to `bytes`).
void read_whole(const fs::path& path, int64_t bytes, std::vector<uint8_t>& buffer) {
  buffer.resize(static_cast<std::size_t>(bytes));
  InputFile in(path);
  const std::size_t got = in.read(buffer.data(), buffer.size());
  if (got != buffer.size()) {
    throw DataError(path.string() + ": read " + std::to_string(got) + " of " +
                    std::to_string(bytes) + " bytes");
  }
}

/// Class names from `path` (one per line, blank lines and surrounding spaces ignored), or
/// `defaults` when the file does not exist.
std::vector<std::string> class_names(const fs::path& path, int64_t num_classes,
                                     const std::vector<std::string>& defaults) {
  if (!path_present(path)) return defaults;
  std::istringstream in(read_input_file(path));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const std::size_t last = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(first, last - first + 1));
  }
  if (static_cast<int64_t>(names.size()) != num_classes) {
    throw DataError(path.string() + ": " + std::to_string(names.size()) +
                    " class names, expected " + std::to_string(num_classes) + " (one per line)");
  }
  return names;
}

Dataset load(const Format& f, const fs::path& root, const std::string& name,
             const std::vector<std::string>& default_names) {
  const fs::path dir = data_folder(f, root);
  std::vector<fs::path> paths;
  std::vector<int64_t> counts;
  int64_t n_train = 0;
  int64_t n = 0;
  // Check every file before reading any: a missing or truncated test file fails fast.
  for (const auto* files : {&f.train_files, &f.test_files}) {
    for (const std::string& file : *files) {
      paths.push_back(dir / file);
      counts.push_back(count_records(f, root, paths.back()));
      n += counts.back();
    }
    if (files == &f.train_files) n_train = n;
  }

  const int64_t num_classes = f.label_limits[f.used_label];
  Dataset d;
  d.name = name;
  d.images = at::empty({n, kChannels, kSide, kSide}, at::kByte);
  d.labels = at::empty({n}, at::kLong);
  d.is_test = at::zeros({n}, at::kBool);
  d.is_test.narrow(0, n_train, n - n_train).fill_(true);
  d.num_classes = num_classes;
  d.class_names = class_names(dir / f.names_file, num_classes, default_names);

  uint8_t* image_out = d.images.data_ptr<uint8_t>();
  int64_t* label_out = d.labels.data_ptr<int64_t>();
  const int64_t record = f.record_bytes();
  const std::size_t label_bytes = f.label_limits.size();
  std::vector<uint8_t> buffer;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    throw_if_stopped("loading " + paths[i].string());
    read_whole(paths[i], counts[i] * record, buffer);
    const uint8_t* in = buffer.data();
    for (int64_t r = 0; r < counts[i]; ++r, in += record) {
      for (std::size_t b = 0; b < label_bytes; ++b) {
        if (in[b] >= f.label_limits[b]) {
          throw DataError(paths[i].string() + ": record " + std::to_string(r) +
                          " (counting from 0) has " + f.label_names[b] + " " +
                          std::to_string(in[b]) + ", expected < " +
                          std::to_string(f.label_limits[b]));
        }
      }
      *label_out++ = in[f.used_label];
      std::memcpy(image_out, in + label_bytes, kPixelBytes);
      image_out += kPixelBytes;
    }
  }
  return d;
}

const std::vector<std::string>& cifar10_names() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

const std::vector<std::string>& cifar100_fine_names() {
  static const std::vector<std::string> names{
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  return names;
}

const std::vector<std::string>& cifar100_coarse_names() {
  static const std::vector<std::string> names{"aquatic_mammals",
                                              "fish",
                                              "flowers",
                                              "food_containers",
                                              "fruit_and_vegetables",
                                              "household_electrical_devices",
                                              "household_furniture",
                                              "insects",
                                              "large_carnivores",
                                              "large_man-made_outdoor_things",
                                              "large_natural_outdoor_scenes",
                                              "large_omnivores_and_herbivores",
                                              "medium_mammals",
                                              "non-insect_invertebrates",
                                              "people",
                                              "reptiles",
                                              "small_mammals",
                                              "trees",
                                              "vehicles_1",
                                              "vehicles_2"};
  return names;
}

}  // namespace

Dataset load_cifar10(const std::filesystem::path& root) {
  Format f;
  f.title = "CIFAR-10";
  f.archive = "cifar-10-binary.tar.gz";
  f.nested = "cifar-10-batches-bin";
  f.train_files = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                   "data_batch_5.bin"};
  f.test_files = {"test_batch.bin"};
  f.names_file = "batches.meta.txt";
  f.optional_files = {f.names_file};
  f.label_names = {"label"};
  f.label_limits = {10};
  f.used_label = 0;
  f.python_markers = {"cifar-10-batches-py", "data_batch_1"};
  f.python_archive = "cifar-10-python.tar.gz";
  return load(f, root, "cifar10", cifar10_names());
}

Dataset load_cifar100(const std::filesystem::path& root, const std::string& labels) {
  if (labels != "fine" && labels != "coarse") {
    throw ConfigError("cifar100_labels must be \"fine\" or \"coarse\", got \"" + labels + "\"");
  }
  const bool fine = labels == "fine";
  Format f;
  f.title = "CIFAR-100";
  f.archive = "cifar-100-binary.tar.gz";
  f.nested = "cifar-100-binary";
  f.train_files = {"train.bin"};
  f.test_files = {"test.bin"};
  f.names_file = fine ? "fine_label_names.txt" : "coarse_label_names.txt";
  f.optional_files = {"fine_label_names.txt", "coarse_label_names.txt"};
  f.label_names = {"coarse label", "fine label"};
  f.label_limits = {20, 100};
  f.used_label = fine ? 1 : 0;
  f.python_markers = {"cifar-100-python", "train"};
  f.python_archive = "cifar-100-python.tar.gz";
  return load(f, root, "cifar100", fine ? cifar100_fine_names() : cifar100_coarse_names());
}

}  // namespace moedil::data
