// Writes a CORe50-shaped folder of synthetic 128x128 PNG images for bench/mapped_dataset.sh:
// <out>/core50_128x128/s<session>/o<object>/C_<ss>_<oo>_<fff>.png, sessions 1..11, objects
// 1..50, `frames` images per object and session (300: 165,000 images, CORe50 has 164,866).
// Each image is a smooth gradient with a little seeded noise (PNG compresses it like a photo,
// not like noise), different per session, object and frame. Files already there are kept.
//   make_core50_tree OUT [FRAMES] [THREADS]
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: make_core50_tree OUT [FRAMES=300] [THREADS=all]\n");
    return 2;
  }
  const fs::path base = fs::path(argv[1]) / "core50_128x128";
  const int frames = argc > 2 ? std::atoi(argv[2]) : 300;
  const unsigned threads = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3]))
                                    : std::max(1u, std::thread::hardware_concurrency());
  constexpr int kSessions = 11, kObjects = 50, kSide = 128;
  for (int s = 1; s <= kSessions; ++s) {
    for (int o = 1; o <= kObjects; ++o) {
      fs::create_directories(base / ("s" + std::to_string(s)) / ("o" + std::to_string(o)));
    }
  }
  const long total = static_cast<long>(kSessions) * kObjects * frames;
  std::atomic<long> next{0};
  const auto work = [&] {
    cv::Mat m(kSide, kSide, CV_8UC3);
    for (long k; (k = next.fetch_add(1)) < total;) {
      const int s = static_cast<int>(k / (kObjects * frames)) + 1;
      const int o = static_cast<int>(k / frames % kObjects) + 1;
      const int f = static_cast<int>(k % frames);
      char name[64];
      std::snprintf(name, sizeof name, "C_%02d_%02d_%03d.png", s, o, f);
      const fs::path path =
          base / ("s" + std::to_string(s)) / ("o" + std::to_string(o)) / name;
      if (fs::exists(path)) continue;
      std::mt19937 rng(static_cast<unsigned>(k));
      std::uniform_int_distribution<int> noise(0, 7);
      for (int y = 0; y < kSide; ++y) {
        auto* row = m.ptr<cv::Vec3b>(y);
        for (int x = 0; x < kSide; ++x) {
          row[x] = cv::Vec3b(static_cast<uchar>((x * 2 + o * 5 + noise(rng)) & 255),
                             static_cast<uchar>((y * 2 + s * 20 + noise(rng)) & 255),
                             static_cast<uchar>((x + y + f + noise(rng)) & 255));
        }
      }
      if (!cv::imwrite(path.string(), m)) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::exit(1);
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  std::printf("%ld images under %s\n", total, base.c_str());
  return 0;
}
