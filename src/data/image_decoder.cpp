#include "moedil/data/image_decoder.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>
#include <utility>
#include <vector>

#include "moedil/common/cpu_count.h"
#include "moedil/common/error.h"
#include "moedil/common/stop.h"
#include "moedil/io/logging.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;

/// Progress is logged every 5% for datasets of at least this many images.
constexpr int64_t kProgressMinImages = 200;

/// Pixels decoded per chunk before they are handed to the sink.
constexpr int64_t kChunkBytes = int64_t{64} << 20;

/// Decodes `path` as 8-bit BGR; an empty Mat (and `why`) when it cannot be decoded.
cv::Mat read_image(const fs::path& path, std::string& why) {
  try {
    cv::Mat m = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (m.empty()) why = "OpenCV cannot decode it";
    if (!m.empty() && m.type() != CV_8UC3) {
      why = "unexpected pixel type";
      m.release();
    }
    return m;
  } catch (const std::exception& e) {
    why = e.what();
  }
  return cv::Mat();
}

std::string unreadable_message(const fs::path& path, const std::string& why) {
  return "cannot decode image " + quote_path(path) + " (" + why +
         "; is it a valid jpg/png/bmp file?). Set on_bad_image to \"skip\" to leave out images "
         "that cannot be decoded.";
}

}  // namespace

Dataset decode_images_streamed(const std::string& name, const fs::path& root,
                               const ImageFileList& list, const ImageLoadOptions& o,
                               SkippedImages& skipped, const ImageShapeSink& begin,
                               const ImageChunkSink& sink) {
  const auto& files = list.files;
  const auto n = static_cast<int64_t>(files.size());
  if (n == 0) {
    throw DataError("dataset '" + name + "' " + quote_path(root) +
                    ": the class folders hold no images (jpg, jpeg, png, bmp)");
  }
  const auto started = std::chrono::steady_clock::now();
  int64_t height = o.resize;
  int64_t width = o.resize;
  int64_t reference = -1;  // image that fixes the size when not resizing
  if (o.resize <= 0) {
    for (int64_t i = 0; i < n && reference < 0; ++i) {
      throw_if_stopped("decoding the images of dataset '" + name + "'");
      std::string why;
      const cv::Mat m = read_image(files[i].path, why);
      if (m.empty()) {
        if (!o.skip_bad) throw DataError(unreadable_message(files[i].path, why));
        continue;
      }
      reference = i;
      height = m.rows;
      width = m.cols;
    }
    if (reference < 0) {
      throw DataError("dataset '" + name + "' " + quote_path(root) + ": none of its " +
                      std::to_string(n) + " images can be decoded, e.g. " +
                      quote_path(files[0].path));
    }
  }
  int64_t threads =
      o.threads > 0 ? o.threads : available_cpus();
  threads = std::max<int64_t>(1, std::min(threads, n));
  io::logger()->info(
      "[data] {}: decoding {} images from {} ({} threads{})", name, n, root.string(), threads,
      o.resize > 0 ? ", resized to " + std::to_string(o.resize) + "x" + std::to_string(o.resize)
                   : std::string());
  begin(height, width);

  const int64_t plane = height * width;
  const int64_t slot = 3 * plane;
  // Images are decoded a chunk at a time (about kChunkBytes of pixels), so what is held besides
  // the sink's storage is one chunk.
  const int64_t chunk = std::max<int64_t>(1, std::min(n, kChunkBytes / slot));
  std::vector<uint8_t> buffer(static_cast<std::size_t>(chunk * slot));
  uint8_t* const base = buffer.data();
  std::vector<uint8_t> ok(static_cast<std::size_t>(n), 0);
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> reported{0};  // last 5% step logged
  std::mutex progress_mutex;
  std::mutex error_mutex;
  int64_t error_index = -1;  // lowest index whose image is an error
  std::string error_message;
  std::atomic<bool> stop{false};

  const auto record_error = [&](int64_t i, std::string message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (error_index < 0 || i < error_index) {
      error_index = i;
      error_message = std::move(message);
    }
    stop = true;
  };
  int64_t first = 0;  // first index of the chunk being decoded
  const auto process = [&](int64_t i) {
    const fs::path& path = files[static_cast<std::size_t>(i)].path;
    std::string why;
    cv::Mat m = read_image(path, why);
    if (!m.empty() && o.resize > 0 && (m.rows != height || m.cols != width)) {
      try {
        cv::Mat resized;
        cv::resize(m, resized, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0,
                   cv::INTER_AREA);
        m = resized;
      } catch (const std::exception& e) {
        why = std::string("resize failed: ") + e.what();
        m.release();
      }
    }
    if (m.empty()) {
      if (!o.skip_bad) record_error(i, unreadable_message(path, why));
      return;
    }
    if (m.rows != height || m.cols != width) {
      record_error(i, "dataset '" + name + "': images differ in size: " +
                          quote_path(files[static_cast<std::size_t>(reference)].path) + " is " +
                          std::to_string(width) + "x" + std::to_string(height) + " but " +
                          quote_path(path) + " is " + std::to_string(m.cols) + "x" +
                          std::to_string(m.rows) +
                          " (width x height). Set `resize` (e.g. 224) to load every image at "
                          "one square size.");
      return;
    }
    uint8_t* out = base + (i - first) * slot;
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* row = m.ptr<uint8_t>(static_cast<int>(y));
      uint8_t* r = out + y * width;
      uint8_t* g = r + plane;
      uint8_t* b = g + plane;
      for (int64_t x = 0; x < width; ++x) {  // BGR -> RGB planes
        b[x] = row[3 * x];
        g[x] = row[3 * x + 1];
        r[x] = row[3 * x + 2];
      }
    }
    ok[static_cast<std::size_t>(i)] = 1;
  };

  std::vector<int64_t> labels;
  std::vector<int64_t> domains;
  std::vector<uint8_t> test;
  int64_t kept = 0;
  for (first = 0; first < n; first += chunk) {
    const int64_t last = std::min(n, first + chunk);
    std::atomic<int64_t> next{first};
    const auto worker = [&] {
      // An index is only taken while no error is known, and every taken index is finished, so
      // the lowest recorded error is the first error in file order (deterministic message).
      while (!stop.load() && stop_flag().load(std::memory_order_relaxed) == 0) {
        const int64_t i = next.fetch_add(1);
        if (i >= last) break;
        try {
          process(i);
        } catch (const std::exception& e) {
          record_error(i, "dataset '" + name + "': failed on " +
                              quote_path(files[static_cast<std::size_t>(i)].path) + ": " +
                              e.what());
        } catch (...) {
          record_error(i, "dataset '" + name + "': failed on " +
                              quote_path(files[static_cast<std::size_t>(i)].path));
        }
        const int64_t k = done.fetch_add(1) + 1;
        const int64_t step = k * 20 / n;  // 5% steps
        if (n >= kProgressMinImages && step > reported.load()) {
          std::lock_guard<std::mutex> lock(progress_mutex);
          if (step > reported.load()) {  // steps are logged once each, in increasing order
            reported = step;
            io::logger()->info("[data] {}: decoded {}/{} images ({}%)", name, k, n, k * 100 / n);
          }
        }
      }
    };
    std::vector<std::thread> pool;
    for (int64_t t = 1; t < std::min(threads, last - first); ++t) pool.emplace_back(worker);
    worker();
    for (std::thread& t : pool) t.join();
    throw_if_stopped("decoding the images of dataset '" + name + "'");
    if (error_index >= 0) throw DataError(error_message);

    // Drop the unreadable images: move the kept slots of the chunk to its front.
    int64_t kept_here = 0;
    for (int64_t i = first; i < last; ++i) {
      const ImageFile& f = files[static_cast<std::size_t>(i)];
      if (!ok[static_cast<std::size_t>(i)]) {
        if (skipped.count++ == 0) skipped.example = f.path.string();
        continue;
      }
      if (kept_here != i - first) {
        std::memcpy(base + kept_here * slot, base + (i - first) * slot,
                    static_cast<size_t>(slot));
      }
      labels.push_back(f.label);
      domains.push_back(f.domain_id);
      test.push_back(f.test ? 1 : 0);
      ++kept_here;
    }
    if (kept_here > 0) sink(base, kept_here);
    kept += kept_here;
  }
  if (kept == 0) {
    throw DataError("dataset '" + name + "' " + quote_path(root) + ": none of its " +
                    std::to_string(n) + " images can be decoded, e.g. " +
                    quote_path(fs::path(skipped.example)));
  }
  if (skipped.count > 0) {
    io::logger()->warn("[data] {}: skipped {} unreadable images, e.g. {}", name, skipped.count,
                       skipped.example);
  }
  Dataset d;
  d.name = name;
  d.labels = at::tensor(at::ArrayRef<int64_t>(labels), at::kLong);
  if (!list.domain_names.empty()) {
    d.domain_ids = at::tensor(at::ArrayRef<int64_t>(domains), at::kLong);
  }
  if (list.has_test_split) {
    d.is_test = at::tensor(at::ArrayRef<uint8_t>(test), at::kByte).to(at::kBool);
  }
  d.class_names = list.class_names;
  d.domain_names = list.domain_names;
  d.num_classes = static_cast<int64_t>(list.class_names.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  io::logger()->info("[data] {}: decoded {} images of {}x{} in {:.1f} s", name, kept, width, height,
                     seconds);
  return d;
}

Dataset decode_images(const std::string& name, const fs::path& root, const ImageFileList& list,
                      const ImageLoadOptions& o, SkippedImages& skipped) {
  at::Tensor images;
  int64_t filled = 0;
  Dataset d = decode_images_streamed(
      name, root, list, o, skipped,
      [&](int64_t height, int64_t width) {
        images = at::empty({static_cast<int64_t>(list.files.size()), 3, height, width}, at::kByte);
      },
      [&](const uint8_t* pixels, int64_t count) {
        const int64_t slot = images[0].numel();
        std::memcpy(images.data_ptr<uint8_t>() + filled * slot, pixels,
                    static_cast<std::size_t>(count * slot));
        filled += count;
      });
  d.images = filled == images.size(0) ? images : images.narrow(0, 0, filled);
  return d;
}

}  // namespace moedil::data
