#include "moedil/data/image_folder.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/io/logging.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

// Fixture images are kW x kH with one flat colour each. PNG decodes exactly; JPEG (lossy) is
// checked with a tolerance.
constexpr int kW = 6;
constexpr int kH = 5;

struct Rgb {
  int r, g, b;
};

/// The colour of image `index` of class `cls` in domain `domain`: every (domain, class, index)
/// gets its own colour, so position, label and domain of each decoded image can be checked.
Rgb colour(int domain, int cls, int index) {
  return {10 + 30 * cls + 3 * index, 5 + 40 * domain, 250 - 20 * cls - 7 * index};
}

/// Writes a flat w x h image of colour c (RGB) to `path` (format from the extension).
void write_image(const fs::path& path, Rgb c, int w = kW, int h = kH) {
  fs::create_directories(path.parent_path());
  const cv::Mat m(h, w, CV_8UC3, cv::Scalar(c.b, c.g, c.r));  // OpenCV stores BGR
  ASSERT_TRUE(cv::imwrite(path.string(), m)) << path;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// Every pixel of image i is within `tol` of colour c in each RGB channel.
void expect_colour(const Dataset& d, int64_t i, Rgb c, int tol = 0) {
  const int want[3] = {c.r, c.g, c.b};
  for (int64_t ch = 0; ch < 3; ++ch) {
    const at::Tensor plane = d.images[i][ch].to(at::kInt);
    const int lo = plane.min().item<int>();
    const int hi = plane.max().item<int>();
    EXPECT_LE(std::abs(lo - want[ch]), tol) << "image " << i << " channel " << ch;
    EXPECT_LE(std::abs(hi - want[ch]), tol) << "image " << i << " channel " << ch;
  }
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected DataError";
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

ImageLoadOptions options(int64_t resize = 0, int64_t threads = 0) {
  ImageLoadOptions o;
  o.resize = resize;
  o.threads = threads;
  return o;
}

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_image_folder_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    io::logger()->sinks().push_back(sink_);
  }
  void TearDown() override {
    auto& sinks = io::logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// Log lines written since the last call.
  std::string take_log() {
    io::logger()->flush();
    std::string s = log_.str();
    log_.str("");
    return s;
  }

  /// `<root>/<domain>/<class>/img<k>.png` for domains dA, dB and classes cat, dog, 2 images
  /// each (written in reverse name order). Returns the number of images.
  int write_domain_layout(const fs::path& root) {
    const std::vector<std::string> domains{"dB", "dA"};    // ids: dA = 0, dB = 1
    const std::vector<std::string> classes{"dog", "cat"};  // labels: cat = 0, dog = 1
    int count = 0;
    for (const std::string& dom : domains) {
      for (const std::string& cls : classes) {
        for (int k = 1; k >= 0; --k) {
          write_image(root / dom / cls / ("img" + std::to_string(k) + ".png"),
                      colour(dom == "dB", cls == "dog", k));
          ++count;
        }
      }
    }
    return count;
  }

  fs::path dir_;
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

// ---- generic layouts -------------------------------------------------------------------

TEST_F(ImageFolderTest, DomainClassLayout) {
  write_domain_layout(dir_);
  // Other extensions (upper case too) count; other files are ignored.
  write_image(dir_ / "dA" / "cat" / "img2.JPG", colour(0, 0, 2));
  write_bytes(dir_ / "dA" / "cat" / "notes.txt", "not an image");
  write_bytes(dir_ / "dA" / "cat" / ".hidden.png", "not an image either");
  const Dataset d = load_image_folder("folder", dir_, options());
  EXPECT_EQ(d.name, "folder");
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{9, 3, kH, kW}));
  EXPECT_EQ(d.images.scalar_type(), at::kByte);
  EXPECT_TRUE(d.images.is_contiguous());
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"dA", "dB"}));
  ASSERT_TRUE(d.has_domains());
  EXPECT_FALSE(d.has_test_split());
  // Sorted: domain, class, file name.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1, 1}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 0, 1));
  expect_colour(d, 2, colour(0, 0, 2), 4);  // JPEG
  expect_colour(d, 3, colour(0, 1, 0));
  expect_colour(d, 4, colour(0, 1, 1));
  expect_colour(d, 5, colour(1, 0, 0));
  expect_colour(d, 6, colour(1, 0, 1));
  expect_colour(d, 7, colour(1, 1, 0));
  expect_colour(d, 8, colour(1, 1, 1));
}

TEST_F(ImageFolderTest, ClassOnlyLayout) {
  write_image(dir_ / "zebra" / "a.png", colour(0, 2, 0));
  write_image(dir_ / "ant" / "b.bmp", colour(0, 0, 1));
  write_image(dir_ / "ant" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "mole" / "x.jpeg", colour(0, 1, 0));
  const Dataset d = load_image_folder("plain", dir_, options());
  EXPECT_FALSE(d.has_domains());
  EXPECT_TRUE(d.domain_names.empty());
  EXPECT_FALSE(d.has_test_split());
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"ant", "mole", "zebra"}));
  EXPECT_EQ(d.num_classes, 3);
  ASSERT_EQ(d.size(), 4);
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 1, 2}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 0, 1));  // BMP is lossless
  expect_colour(d, 2, colour(0, 1, 0), 4);
  expect_colour(d, 3, colour(0, 2, 0));
}

TEST_F(ImageFolderTest, TrainValAtRootSetsIsTest) {
  write_image(dir_ / "train" / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "train" / "dog" / "a.png", colour(0, 1, 0));
  write_image(dir_ / "val" / "cat" / "a.png", colour(0, 0, 1));
  write_image(dir_ / "val" / "dog" / "a.png", colour(0, 1, 1));
  write_image(dir_ / "val" / "dog" / "b.png", colour(0, 1, 2));
  const Dataset d = load_image_folder("split", dir_, options());
  EXPECT_FALSE(d.has_domains());
  ASSERT_TRUE(d.has_test_split());
  EXPECT_EQ(d.is_test.scalar_type(), at::kBool);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(d.size(), 5);
  EXPECT_EQ(to_vector(d.is_test), (std::vector<int64_t>{0, 0, 1, 1, 1}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 0, 1, 1}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 1, 0));
  expect_colour(d, 2, colour(0, 0, 1));
  expect_colour(d, 4, colour(0, 1, 2));
}

TEST_F(ImageFolderTest, TrainTestPerDomainSetsIsTest) {
  for (int dom = 0; dom < 2; ++dom) {
    const fs::path droot = dir_ / (dom == 0 ? "d0" : "d1");
    write_image(droot / "train" / "x" / "a.png", colour(dom, 0, 0));
    write_image(droot / "train" / "y" / "a.png", colour(dom, 1, 0));
    write_image(droot / "test" / "x" / "a.png", colour(dom, 0, 1));
    write_image(droot / "test" / "y" / "a.png", colour(dom, 1, 1));
  }
  const Dataset d = load_image_folder("split", dir_, options());
  ASSERT_TRUE(d.has_domains());
  ASSERT_TRUE(d.has_test_split());
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"d0", "d1"}));
  // Not "train"/"test" classes: the split folders are recognised under each domain.
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(to_vector(d.is_test), (std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 0, 1, 0, 1, 0, 1}));
  expect_colour(d, 3, colour(0, 1, 1));
  expect_colour(d, 6, colour(1, 0, 1));
}

TEST_F(ImageFolderTest, InconsistentClassFoldersListMissingPerDomain) {
  for (const char* c : {"cat", "dog", "fox"}) write_image(dir_ / "dA" / c / "a.png", {1, 2, 3});
  write_image(dir_ / "dB" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "dC" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "dC" / "dog" / "a.png", {1, 2, 3});
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, dir_.string())) << msg;
  EXPECT_TRUE(contains(msg, "domain 'dB' lacks 'dog', 'fox'")) << msg;
  EXPECT_TRUE(contains(msg, "domain 'dC' lacks 'fox'")) << msg;
  EXPECT_FALSE(contains(msg, "domain 'dA'")) << msg;
}

TEST_F(ImageFolderTest, MixedDomainAndClassFoldersIsError) {
  write_image(dir_ / "dA" / "cat" / "a.png", {1, 2, 3});
  write_image(dir_ / "stray" / "a.png", {1, 2, 3});
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, (dir_ / "stray").string())) << msg;
  EXPECT_TRUE(contains(msg, "no class sub-folders")) << msg;
}

TEST_F(ImageFolderTest, NoImagesIsError) {
  fs::create_directories(dir_ / "cat");
  write_bytes(dir_ / "cat" / "readme.txt", "text");
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, "hold no images")) << msg;
}

TEST_F(ImageFolderTest, DifferentSizesNeedResize) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "cat" / "b.png", colour(0, 0, 1));
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0), 9, 4);
  write_image(dir_ / "dog" / "b.png", colour(0, 1, 1), 3, 3);
  for (int64_t threads : {1, 3}) {
    const std::string msg = message_of([&] { load_image_folder("x", dir_, options(0, threads)); });
    // The first image (reference) and the first one of another size, in file order.
    EXPECT_TRUE(contains(msg, (dir_ / "cat" / "a.png").string())) << msg;
    EXPECT_TRUE(contains(msg, (dir_ / "dog" / "a.png").string())) << msg;
    EXPECT_TRUE(contains(msg, "6x5")) << msg;
    EXPECT_TRUE(contains(msg, "9x4")) << msg;
    EXPECT_TRUE(contains(msg, "resize")) << msg;
  }
}

TEST_F(ImageFolderTest, ResizeGivesSquareImages) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0), 9, 4);
  write_image(dir_ / "dog" / "b.png", colour(0, 1, 1), 3, 3);
  const Dataset d = load_image_folder("x", dir_, options(4));
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{3, 3, 4, 4}));
  // A flat colour stays exactly the same colour under INTER_AREA, down- or upscaled.
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 1, 0));
  expect_colour(d, 2, colour(0, 1, 1));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 1}));
}

TEST_F(ImageFolderTest, ResizeKeepsContentAndIsThreadIndependent) {
  // A left/right split image: resizing 8x4 -> 4x4 keeps the halves.
  cv::Mat m(4, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  m(cv::Rect(4, 0, 4, 4)).setTo(cv::Scalar(200, 100, 50));
  fs::create_directories(dir_ / "c");
  ASSERT_TRUE(cv::imwrite((dir_ / "c" / "half.png").string(), m));
  for (int k = 0; k < 20; ++k) {
    write_image(dir_ / "c" / ("n" + std::to_string(100 + k) + ".png"), colour(0, 0, k % 7));
  }
  const Dataset one = load_image_folder("x", dir_, options(4, 1));
  const Dataset many = load_image_folder("x", dir_, options(4, 4));
  EXPECT_TRUE(one.images.equal(many.images));
  ASSERT_EQ(one.size(), 21);
  const at::Tensor half = one.images[0];
  EXPECT_EQ(half[0][0][0].item<int>(), 0);    // left: black
  EXPECT_EQ(half[0][3][3].item<int>(), 50);   // right: R = 50 (BGR 200, 100, 50)
  EXPECT_EQ(half[1][3][3].item<int>(), 100);  // G
  EXPECT_EQ(half[2][3][3].item<int>(), 200);  // B
}

// ---- bad images and missing roots ------------------------------------------------------

TEST_F(ImageFolderTest, CorruptImageSkippedWhenAsked) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_bytes(dir_ / "cat" / "b.png", "this is not a png");
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0));
  write_bytes(dir_ / "dog" / "b.jpg", "");
  ImageLoadOptions o = options(0, 2);
  o.skip_bad = true;
  take_log();
  const Dataset d = load_image_folder("x", dir_, o);
  ASSERT_EQ(d.size(), 2);
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1}));
  expect_colour(d, 0, colour(0, 0, 0));
  expect_colour(d, 1, colour(0, 1, 0));
  EXPECT_EQ(d.class_names.size(), 2u);
  const std::string log = take_log();
  EXPECT_TRUE(contains(
      log, "[data] x: skipped 2 unreadable images, e.g. " + (dir_ / "cat" / "b.png").string()))
      << log;
}

TEST_F(ImageFolderTest, CorruptFirstImageSkippedWithoutResize) {
  write_bytes(dir_ / "cat" / "a.png", "garbage");
  write_image(dir_ / "cat" / "b.png", colour(0, 0, 1));
  ImageLoadOptions o = options();
  o.skip_bad = true;
  const Dataset d = load_image_folder("x", dir_, o);
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{1, 3, kH, kW}));
  expect_colour(d, 0, colour(0, 0, 1));
}

TEST_F(ImageFolderTest, CorruptImageIsErrorNamingFile) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_bytes(dir_ / "cat" / "b.png", "this is not a png");
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0));
  for (int64_t resize : {0, 4}) {
    const std::string msg = message_of([&] { load_image_folder("x", dir_, options(resize, 2)); });
    EXPECT_TRUE(contains(msg, (dir_ / "cat" / "b.png").string())) << msg;
    EXPECT_TRUE(contains(msg, "on_bad_image")) << msg;
  }
}

TEST_F(ImageFolderTest, AFifoOrBrokenLinkNamedLikeAnImageIsRefusedNamingIt) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0));
  ASSERT_EQ(::mkfifo((dir_ / "dog" / "b.png").c_str(), 0644), 0);
  ImageLoadOptions o = options(0, 2);
  o.skip_bad = true;  // not a bad image: a dataset folder that cannot be read as one
  std::string msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, (dir_ / "dog" / "b.png").string() + ": is a FIFO")) << msg;
  fs::remove(dir_ / "dog" / "b.png");
  fs::create_symlink(dir_ / "nowhere.png", dir_ / "dog" / "b.png");
  msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, (dir_ / "dog" / "b.png").string() + ": is a dangling symbolic link"))
      << msg;
}

TEST_F(ImageFolderTest, AStopRequestEndsDecoding) {
  write_domain_layout(dir_);
  stop_flag().store(2);
  try {
    load_image_folder("x", dir_, options(0, 2));
    ADD_FAILURE() << "decoding went on after a stop request";
  } catch (const InterruptedError& e) {
    EXPECT_TRUE(contains(e.what(), "interrupted while")) << e.what();
  }
  stop_flag().store(0);
}

TEST_F(ImageFolderTest, AllImagesCorruptIsErrorEvenWhenSkipping) {
  write_bytes(dir_ / "cat" / "a.png", "garbage");
  ImageLoadOptions o = options(4);
  o.skip_bad = true;
  const std::string msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, "none of its 1 images")) << msg;
}

TEST_F(ImageFolderTest, MissingRootShowsLayout) {
  const fs::path absent = dir_ / "absent";
  std::string msg = message_of([&] { load_image_folder("x", absent, options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "does not exist")) << msg;
  EXPECT_TRUE(contains(msg, "<root>/<domain>/<class>/<image>")) << msg;
  msg = message_of([&] { load_officehome(absent, options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}")) << msg;
  msg = message_of([&] { load_core50(absent, "object", options()); });
  EXPECT_TRUE(contains(msg, absent.string())) << msg;
  EXPECT_TRUE(contains(msg, "core50_128x128/s1..s11/o1..o50")) << msg;
  // A root that is a file, or an empty folder, also shows the layout.
  write_bytes(dir_ / "file", "x");
  msg = message_of([&] { load_image_folder("x", dir_ / "file", options()); });
  EXPECT_TRUE(contains(msg, "not a folder")) << msg;
  fs::create_directories(dir_ / "empty");
  msg = message_of([&] { load_image_folder("x", dir_ / "empty", options()); });
  EXPECT_TRUE(contains(msg, "<root>/<class>/<image>")) << msg;
}

// ---- OfficeHome ------------------------------------------------------------------------

/// OfficeHome fixture under `base` (the folder holding the domain folders): domains written in
/// reverse order, classes Bike and Alarm_Clock.
void write_officehome(const fs::path& base) {
  const std::vector<std::string> domains{"Real World", "Product", "Clipart", "Art"};
  for (std::size_t k = 0; k < domains.size(); ++k) {
    const int dom = static_cast<int>(domains.size() - 1 - k);  // Art = 0 ... Real World = 3
    write_image(base / domains[k] / "Bike" / "00001.jpg", colour(dom, 1, 0));
    write_image(base / domains[k] / "Alarm_Clock" / "00002.png", colour(dom, 0, 1));
    write_image(base / domains[k] / "Alarm_Clock" / "00001.png", colour(dom, 0, 0));
  }
}

void expect_officehome(const Dataset& d) {
  EXPECT_EQ(d.name, "officehome");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"Art", "Clipart", "Product", "Real World"}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"Alarm_Clock", "Bike"}));
  EXPECT_EQ(d.num_classes, 2);
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{12, 3, 4, 4}));
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1}));
  for (int dom = 0; dom < 4; ++dom) {
    expect_colour(d, 3 * dom, colour(dom, 0, 0));
    expect_colour(d, 3 * dom + 1, colour(dom, 0, 1));
    expect_colour(d, 3 * dom + 2, colour(dom, 1, 0), 4);
  }
}

TEST_F(ImageFolderTest, OfficeHomeDoubledFolder) {
  write_officehome(dir_ / "OfficeHomeDataset_10072016" / "OfficeHomeDataset_10072016");
  expect_officehome(load_officehome(dir_, options(4)));
}

TEST_F(ImageFolderTest, OfficeHomeSingleFolderAndDirectRoot) {
  write_officehome(dir_ / "OfficeHomeDataset_10072016");
  write_bytes(dir_ / "OfficeHomeDataset_10072016" / "ImageInfo.csv", "ignored");
  expect_officehome(load_officehome(dir_, options(4)));
  expect_officehome(load_officehome(dir_ / "OfficeHomeDataset_10072016", options(4)));
}

TEST_F(ImageFolderTest, OfficeHomeMissingDomainOrClass) {
  write_officehome(dir_);
  fs::remove_all(dir_ / "Product");
  std::string msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "'Product'")) << msg;
  EXPECT_FALSE(contains(msg, "'Art'")) << msg;
  write_officehome(dir_);
  fs::remove_all(dir_ / "Clipart" / "Bike");
  msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "domain 'Clipart' lacks 'Bike'")) << msg;
  fs::remove_all(dir_ / "Art");
  fs::remove_all(dir_ / "Clipart");
  fs::remove_all(dir_ / "Product");
  fs::remove_all(dir_ / "Real World");
  msg = message_of([&] { load_officehome(dir_, options(4)); });
  EXPECT_TRUE(contains(msg, "no domain folder")) << msg;
}

// ---- CORe50 ----------------------------------------------------------------------------

/// CORe50 fixture: sessions s1, s2, s10, s11 (written in lexicographic-unfriendly order) with
/// objects o1, o6, o50; one image per object (colour: session index, object index).
void write_core50(const fs::path& base) {
  const std::vector<std::pair<std::string, int>> sessions{
      {"s11", 3}, {"s10", 2}, {"s2", 1}, {"s1", 0}};
  const std::vector<std::pair<std::string, int>> objects{{"o50", 2}, {"o6", 1}, {"o1", 0}};
  for (const auto& [s, si] : sessions) {
    for (const auto& [obj, oi] : objects) {
      write_image(base / s / obj / ("C_" + s + "_" + obj + "_000.png"), colour(si, oi, 0));
    }
  }
}

TEST_F(ImageFolderTest, Core50NumericSessionOrderAndObjectLabels) {
  write_core50(dir_ / "core50_128x128");
  const Dataset d = load_core50(dir_, "object", options());
  EXPECT_EQ(d.name, "core50");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"s1", "s2", "s10", "s11"}));
  EXPECT_EQ(d.num_classes, 50);
  ASSERT_EQ(d.class_names.size(), 50u);
  EXPECT_EQ(d.class_names[0], "o1");
  EXPECT_EQ(d.class_names[49], "o50");
  ASSERT_EQ(d.size(), 12);
  EXPECT_EQ(to_vector(d.domain_ids), (std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3}));
  // Objects in numeric order too: o1, o6, o50.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 5, 49, 0, 5, 49, 0, 5, 49, 0, 5, 49}));
  for (int s = 0; s < 4; ++s) {
    for (int o = 0; o < 3; ++o) expect_colour(d, 3 * s + o, colour(s, o, 0));
  }
}

TEST_F(ImageFolderTest, Core50CategoryLabelsAndDirectRoot) {
  write_core50(dir_);  // root is the core50_128x128 folder itself
  const Dataset d = load_core50(dir_, "category", options());
  EXPECT_EQ(d.num_classes, 10);
  ASSERT_EQ(d.class_names.size(), 10u);
  EXPECT_EQ(d.class_names[0], "plug_adapter");
  EXPECT_EQ(d.class_names[9], "remote_control");
  EXPECT_EQ(d.domain_names, (std::vector<std::string>{"s1", "s2", "s10", "s11"}));
  // o1 -> 0, o6 -> 1, o50 -> 9.
  EXPECT_EQ(to_vector(d.labels), (std::vector<int64_t>{0, 1, 9, 0, 1, 9, 0, 1, 9, 0, 1, 9}));
}

TEST_F(ImageFolderTest, Core50Errors) {
  write_core50(dir_);
  EXPECT_THROW(load_core50(dir_, "objects", options()), ConfigError);
  fs::remove_all(dir_ / "s10" / "o6");
  std::string msg = message_of([&] { load_core50(dir_, "object", options()); });
  EXPECT_TRUE(contains(msg, "domain 's10' lacks 'o6'")) << msg;
  write_image(dir_ / "s10" / "o6" / "x.png", {1, 2, 3});
  write_image(dir_ / "s1" / "o51" / "x.png", {1, 2, 3});
  msg = message_of([&] { load_core50(dir_, "object", options()); });
  EXPECT_TRUE(contains(msg, (dir_ / "s1" / "o51").string())) << msg;
  msg = message_of([&] { load_core50(dir_ / "s1" / "o1", "object", options()); });
  EXPECT_TRUE(contains(msg, "no session folders")) << msg;
}

// ---- cache -----------------------------------------------------------------------------

std::vector<fs::path> cache_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_same(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_TRUE(a.labels.equal(b.labels));
  ASSERT_EQ(a.has_domains(), b.has_domains());
  if (a.has_domains()) EXPECT_TRUE(a.domain_ids.equal(b.domain_ids));
  ASSERT_EQ(a.has_test_split(), b.has_test_split());
  if (a.has_test_split()) EXPECT_TRUE(a.is_test.equal(b.is_test));
  EXPECT_EQ(a.class_names, b.class_names);
  EXPECT_EQ(a.domain_names, b.domain_names);
  EXPECT_EQ(a.num_classes, b.num_classes);
}

TEST_F(ImageFolderTest, CacheRoundTrip) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root / "train");
  write_image(root / "val" / "dA" / "cat" / "v.png", colour(0, 0, 5));
  write_image(root / "val" / "dA" / "dog" / "v.png", colour(0, 1, 5));
  write_image(root / "val" / "dB" / "cat" / "v.png", colour(1, 0, 5));
  write_image(root / "val" / "dB" / "dog" / "v.png", colour(1, 1, 5));
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  take_log();
  const Dataset first = load_image_folder("cached", root, o);
  std::string log = take_log();
  EXPECT_FALSE(contains(log, "loaded from cache")) << log;
  EXPECT_TRUE(contains(log, "wrote cache")) << log;
  const std::vector<fs::path> files = cache_files(cache);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].extension(), ".bin");
  EXPECT_EQ(files[0].filename().string().rfind("cached-", 0), 0u) << files[0];
  ASSERT_EQ(first.size(), 12);
  ASSERT_TRUE(first.has_domains());
  ASSERT_TRUE(first.has_test_split());

  const Dataset second = load_image_folder("cached", root, o);
  log = take_log();
  EXPECT_TRUE(contains(log, "[data] cached: loaded from cache " + files[0].string())) << log;
  EXPECT_FALSE(contains(log, "decoding")) << log;
  expect_same(first, second);
  EXPECT_EQ(cache_files(cache).size(), 1u);

  // Proof that the second load read the cache: change the last pixel byte in the file.
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-9, std::ios::end);  // before the 8-byte end marker
    f.put(static_cast<char>(77));
  }
  const Dataset patched = load_image_folder("cached", root, o);
  EXPECT_EQ(patched.images[11][2][kH - 1][kW - 1].item<int>(), 77);
  EXPECT_NE(first.images[11][2][kH - 1][kW - 1].item<int>(), 77);

  // A damaged cache file is ignored (warning) and decoded again.
  {
    std::ofstream f(files[0], std::ios::binary | std::ios::trunc);
    f << "MOEDIMGC garbage";
  }
  take_log();
  const Dataset rebuilt = load_image_folder("cached", root, o);
  log = take_log();
  EXPECT_TRUE(contains(log, "ignoring cache file")) << log;
  EXPECT_TRUE(contains(log, "decoding")) << log;
  expect_same(first, rebuilt);
  EXPECT_EQ(load_image_folder("cached", root, o).images[11][2][kH - 1][kW - 1].item<int>(),
            first.images[11][2][kH - 1][kW - 1].item<int>());
}

TEST_F(ImageFolderTest, CacheInvalidatedByFolderAndOptionChanges) {
  const fs::path root = dir_ / "data";
  const fs::path cache = dir_ / "cache";
  write_domain_layout(root);
  ImageLoadOptions o = options();
  o.cache_dir = cache.string();
  const Dataset first = load_image_folder("inv", root, o);
  ASSERT_EQ(cache_files(cache).size(), 1u);
  take_log();

  // Touch a file: its modification time changes, so the cache is rebuilt under a new key.
  const fs::path touched = root / "dA" / "cat" / "img0.png";
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(5));
  const Dataset after_touch = load_image_folder("inv", root, o);
  std::string log = take_log();
  EXPECT_FALSE(contains(log, "loaded from cache")) << log;
  EXPECT_TRUE(contains(log, "decoding")) << log;
  EXPECT_EQ(cache_files(cache).size(), 2u);
  expect_same(first, after_touch);

  // Rewrite a file with new pixels (and a new time): rebuilt, and the new pixels are used.
  write_image(touched, colour(0, 0, 9), kW, kH);
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(10));
  const Dataset after_rewrite = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  expect_colour(after_rewrite, 0, colour(0, 0, 9));

  // Add a file: rebuilt with the new image.
  write_image(root / "dB" / "dog" / "img9.png", colour(1, 1, 9));
  const Dataset after_add = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  ASSERT_EQ(after_add.size(), first.size() + 1);
  expect_colour(after_add, after_add.size() - 1, colour(1, 1, 9));
  EXPECT_EQ(cache_files(cache).size(), 4u);

  // Unchanged folder: from the cache again.
  const Dataset again = load_image_folder("inv", root, o);
  EXPECT_TRUE(contains(take_log(), "loaded from cache"));
  expect_same(after_add, again);

  // Other options (resize, skip_bad) and another dataset name get their own cache files.
  o.resize = 3;
  const Dataset resized = load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  EXPECT_EQ(resized.height(), 3);
  o.skip_bad = true;
  load_image_folder("inv", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  load_image_folder("other", root, o);
  EXPECT_FALSE(contains(take_log(), "loaded from cache"));
  EXPECT_EQ(cache_files(cache).size(), 7u);
}

TEST_F(ImageFolderTest, Core50CacheKeyDependsOnLabels) {
  write_core50(dir_ / "core50_128x128");
  ImageLoadOptions o = options();
  o.cache_dir = (dir_ / "cache").string();
  const Dataset objects = load_core50(dir_, "object", o);
  const Dataset categories = load_core50(dir_, "category", o);
  EXPECT_EQ(categories.num_classes, 10);
  EXPECT_EQ(to_vector(categories.labels)[2], 9);
  EXPECT_EQ(cache_files(dir_ / "cache").size(), 2u);
  take_log();
  const Dataset cached = load_core50(dir_, "category", o);
  EXPECT_TRUE(contains(take_log(), "loaded from cache"));
  expect_same(categories, cached);
}

}  // namespace
}  // namespace moedil::data
