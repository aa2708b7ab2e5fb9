#include "moedil/data/image_decoder.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "moedil/common/stop.h"
#include "moedil/data/image_folder.h"
#include "image_fixtures.h"

namespace moedil::data {
namespace {

namespace fs = std::filesystem;
using namespace image_fixtures;

// The decoder is driven through load_image_folder, the smallest layout.
class ImageDecoderTest : public ImageDataTest {};

TEST_F(ImageDecoderTest, NoImagesIsError) {
  fs::create_directories(dir_ / "cat");
  write_bytes(dir_ / "cat" / "readme.txt", "text");
  const std::string msg = message_of([&] { load_image_folder("x", dir_, options()); });
  EXPECT_TRUE(contains(msg, "hold no images")) << msg;
}

TEST_F(ImageDecoderTest, DifferentSizesNeedResize) {
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

TEST_F(ImageDecoderTest, ResizeGivesSquareImages) {
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

TEST_F(ImageDecoderTest, ResizeKeepsContentAndIsThreadIndependent) {
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

TEST_F(ImageDecoderTest, CorruptImageSkippedWhenAsked) {
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

TEST_F(ImageDecoderTest, CorruptFirstImageSkippedWithoutResize) {
  write_bytes(dir_ / "cat" / "a.png", "garbage");
  write_image(dir_ / "cat" / "b.png", colour(0, 0, 1));
  ImageLoadOptions o = options();
  o.skip_bad = true;
  const Dataset d = load_image_folder("x", dir_, o);
  ASSERT_EQ(d.images.sizes(), (at::IntArrayRef{1, 3, kH, kW}));
  expect_colour(d, 0, colour(0, 0, 1));
}

TEST_F(ImageDecoderTest, CorruptImageIsErrorNamingFile) {
  write_image(dir_ / "cat" / "a.png", colour(0, 0, 0));
  write_bytes(dir_ / "cat" / "b.png", "this is not a png");
  write_image(dir_ / "dog" / "a.png", colour(0, 1, 0));
  for (int64_t resize : {0, 4}) {
    const std::string msg = message_of([&] { load_image_folder("x", dir_, options(resize, 2)); });
    EXPECT_TRUE(contains(msg, (dir_ / "cat" / "b.png").string())) << msg;
    EXPECT_TRUE(contains(msg, "on_bad_image")) << msg;
  }
}

TEST_F(ImageDecoderTest, AStopRequestEndsDecoding) {
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

TEST_F(ImageDecoderTest, AllImagesCorruptIsErrorEvenWhenSkipping) {
  write_bytes(dir_ / "cat" / "a.png", "garbage");
  ImageLoadOptions o = options(4);
  o.skip_bad = true;
  const std::string msg = message_of([&] { load_image_folder("x", dir_, o); });
  EXPECT_TRUE(contains(msg, "none of its 1 images")) << msg;
}

}  // namespace
}  // namespace moedil::data
