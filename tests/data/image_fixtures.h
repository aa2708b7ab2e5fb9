#pragma once
// What the tests of the image-file datasets share (image_files, image_decoder, image_cache,
// image_folder, office_home, core50): flat-colour fixture images written with OpenCV, checks of
// decoded colours, a temporary folder per test with the log captured, and the fixture layouts
// of the generic image folder and of CORe50.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/data/dataset.h"
#include "moedil/data/image_load_options.h"
#include "moedil/io/logging.h"

namespace moedil::data::image_fixtures {

namespace fs = std::filesystem;

// Fixture images are kW x kH with one flat colour each. PNG decodes exactly; JPEG (lossy) is
// checked with a tolerance.
inline constexpr int kW = 6;
inline constexpr int kH = 5;

struct Rgb {
  int r, g, b;
};

/// The colour of image `index` of class `cls` in domain `domain`: every (domain, class, index)
/// gets its own colour, so position, label and domain of each decoded image can be checked.
inline Rgb colour(int domain, int cls, int index) {
  return {10 + 30 * cls + 3 * index, 5 + 40 * domain, 250 - 20 * cls - 7 * index};
}

/// Writes a flat w x h image of colour c (RGB) to `path` (format from the extension).
inline void write_image(const fs::path& path, Rgb c, int w = kW, int h = kH) {
  fs::create_directories(path.parent_path());
  const cv::Mat m(h, w, CV_8UC3, cv::Scalar(c.b, c.g, c.r));  // OpenCV stores BGR
  ASSERT_TRUE(cv::imwrite(path.string(), m)) << path;
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

inline std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

/// Every pixel of image i is within `tol` of colour c in each RGB channel.
inline void expect_colour(const Dataset& d, int64_t i, Rgb c, int tol = 0) {
  const int want[3] = {c.r, c.g, c.b};
  for (int64_t ch = 0; ch < 3; ++ch) {
    const at::Tensor plane = d.images[i][ch].to(at::kInt);
    const int lo = plane.min().item<int>();
    const int hi = plane.max().item<int>();
    EXPECT_LE(std::abs(lo - want[ch]), tol) << "image " << i << " channel " << ch;
    EXPECT_LE(std::abs(hi - want[ch]), tol) << "image " << i << " channel " << ch;
  }
}

inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected DataError";
  return "";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline ImageLoadOptions options(int64_t resize = 0, int64_t threads = 0) {
  ImageLoadOptions o;
  o.resize = resize;
  o.threads = threads;
  return o;
}

/// A fresh temporary folder per test (dir_) and the log lines written during the test.
class ImageDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("moedil_image_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
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

/// The cache files (*.bin) in `dir`, sorted (their *.bin.stats beside them left out).
inline std::vector<fs::path> cache_files(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".bin") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline void expect_same(const Dataset& a, const Dataset& b) {
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

}  // namespace moedil::data::image_fixtures
