// The memory estimate of a config and the refusal of one that does not fit.
#include "moedil/train/footprint.h"

#include <gtest/gtest.h>

#include <string>

#include "moedil/common/error.h"
#include "moedil/model/parameter_estimate.h"

namespace moedil::train {
namespace {

config::RunConfig synthetic_vit() {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.mini_dataset = 300;
  c.partition.type = "domainIncremental";
  c.num_partitions = 3;
  c.model.name = "vit";
  c.model.patch_size = 4;
  c.model.embed_dim = 16;
  c.model.depth = 2;
  c.model.num_heads = 2;
  c.optimizer.name = "adam";
  return c;
}

TEST(Footprint, AddsTrainingStateOfTheModelAndTheImages) {
  config::RunConfig c = synthetic_vit();
  const double params = model::estimate_parameters(c.model, {1, 8, 8, 4});
  MemoryEstimate m = estimate_memory(c);
  EXPECT_EQ(m.parameters, params);
  EXPECT_EQ(m.bytes_per_parameter, 16.0);  // weights, gradients, two adam moments
  EXPECT_EQ(m.model_bytes, params * 16);
  EXPECT_EQ(m.data.bytes(), 300.0 * 64);
  EXPECT_EQ(m.image_copies, 1.0);  // domainIncremental indexes the dataset's images
  EXPECT_EQ(m.total_bytes, params * 16 + 300.0 * 64);

  // sgd with momentum keeps one buffer, without none; baselines train a second model.
  c.optimizer.name = "sgd";
  EXPECT_EQ(estimate_memory(c).bytes_per_parameter, 12.0);
  c.optimizer.momentum = 0.0;
  EXPECT_EQ(estimate_memory(c).bytes_per_parameter, 8.0);
  c.baseline.enabled = true;
  EXPECT_EQ(estimate_memory(c).model_bytes, params * 8 * 2);

  // rotate holds one rotated copy per domain beside the dataset.
  c.partition.type = "rotate";
  c.num_partitions = 5;
  m = estimate_memory(c);
  EXPECT_EQ(m.image_copies, 6.0);
  EXPECT_EQ(m.data_bytes, 300.0 * 64 * 6);
}

TEST(Footprint, AConfigThatDoesNotFitIsAConfigErrorWithTheEstimate) {
  config::RunConfig c = synthetic_vit();
  EXPECT_NO_THROW(check_memory(c, "small.jsonc", uint64_t{1} << 30));
  c.model.embed_dim = 65536;
  c.model.depth = 1000;
  c.model.num_heads = 1;
  try {
    check_memory(c, "huge.jsonc", uint64_t{64} << 30);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("huge.jsonc: the run needs an estimated "), std::string::npos) << what;
    EXPECT_NE(what.find("more than 90% of the 64.0 GiB of this machine"), std::string::npos)
        << what;
    EXPECT_NE(what.find("model 'vit': 3.44e+13 parameters x 16 bytes"), std::string::npos)
        << what;
    EXPECT_NE(what.find("images: 300 of 1x8x8 bytes = 18.8 KiB"), std::string::npos) << what;
    EXPECT_NE(what.find("model.embed_dim, model.depth"), std::string::npos) << what;
  }
}

TEST(Footprint, ImageFolderDatasetsMappedFromTheCacheDoNotCountAgainstMemory) {
  config::RunConfig c = synthetic_vit();
  c.dataset = "core50";
  c.dataset_root = "/nonexistent/moedil";  // the nominal 164866 images
  c.mini_dataset = 0;
  c.resize = 224;
  const double bytes = 164866.0 * 3 * 224 * 224;
  MemoryEstimate m = estimate_memory(c);
  EXPECT_FALSE(m.mapped);
  EXPECT_EQ(m.data_bytes, bytes);
  try {
    check_memory(c, "core50.jsonc", uint64_t{16} << 30);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("images: 164866 of 3x224x224 bytes (the dataset's nominal size: its "
                        "files were not found) = 23.1 GiB"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("Or set cache_dir: 'core50' is then decoded once"), std::string::npos)
        << what;
  }
  // 90% of the memory at most: 23.1 GiB on a 24 GiB machine is refused, on 26 GiB it passes.
  EXPECT_THROW(check_memory(c, "core50.jsonc", uint64_t{24} << 30), ConfigError);
  EXPECT_NO_THROW(check_memory(c, "core50.jsonc", uint64_t{26} << 30));
  c.cache_dir = "cache";
  m = estimate_memory(c);
  EXPECT_TRUE(m.mapped);
  EXPECT_EQ(m.data_bytes, 0.0);
  EXPECT_NO_THROW(check_memory(c, "core50.jsonc", uint64_t{16} << 30));
  // What copies the images is counted again: the training split, a subsample, a transforming
  // partition, the predecessor's draw.
  c.dataset_split = "train";
  EXPECT_FALSE(estimate_memory(c).mapped);
  c.dataset_split = "all";
  c.pretrain.enabled = true;
  c.pretrain.num_samples = 100;
  c.pretrain.draw = "dataset";
  EXPECT_EQ(estimate_memory(c).data_bytes, bytes);
  c.pretrain.with_replacement = true;
  EXPECT_TRUE(estimate_memory(c).mapped);
}

TEST(Footprint, TheMachineHasMemory) {
  const uint64_t limit = memory_limit_bytes();
  EXPECT_GT(limit, uint64_t{64} << 20);
  // The shipped-size configs fit it.
  EXPECT_NO_THROW(check_memory(synthetic_vit(), "small.jsonc"));
}

TEST(Footprint, FormatBytesUsesBinaryUnits) {
  EXPECT_EQ(format_bytes(18), "18 B");
  EXPECT_EQ(format_bytes(19200), "18.8 KiB");
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024 * 1024), "1.50 GiB");
  EXPECT_EQ(format_bytes(300.0 * 1024 * 1024), "300 MiB");
}

}  // namespace
}  // namespace moedil::train
