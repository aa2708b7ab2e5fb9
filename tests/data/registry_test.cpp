#include "moedil/data/registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moedil/common/error.h"
#include "moedil/config/run_config.h"

namespace moedil::data {
namespace {

const std::vector<std::string> kImageDatasets = {"imagefolder", "officehome", "core50"};

TEST(DatasetRegistryTest, ListsEveryDatasetInEveryBuild) {
  EXPECT_EQ(dataset_registry().names(),
            (std::vector<std::string>{"fashion_mnist", "mnist", "cifar10", "cifar100",
                                      "imagefolder", "officehome", "core50", "synthetic"}));
}

// With OpenCV the image datasets look for their folder (and name it when it is missing);
// without it (-DMOEDIL_WITH_OPENCV=OFF) they refuse with a DataError that says why and how to
// get a build that can, before touching the disk. Each configuration runs its own branch.
TEST(DatasetRegistryTest, ImageDatasetsNeedOpenCvAndSayWhen) {
  const std::string root = "/nonexistent/moedil-registry-test";
  for (const std::string& name : kImageDatasets) {
    config::RunConfig c;
    c.dataset = name;
    c.dataset_root = root;
    try {
      make_dataset(c);
      ADD_FAILURE() << name << ": loaded from a folder that does not exist";
    } catch (const DataError& e) {
      const std::string what = e.what();
      if (image_datasets_available()) {
        EXPECT_NE(what.find(root), std::string::npos) << what;
        EXPECT_EQ(what.find("OpenCV"), std::string::npos) << what;
      } else {
        EXPECT_NE(what.find("'" + name + "'"), std::string::npos) << what;
        EXPECT_NE(what.find("built without OpenCV"), std::string::npos) << what;
        EXPECT_NE(what.find("-DMOEDIL_WITH_OPENCV=ON"), std::string::npos) << what;
      }
    }
  }
}

TEST(DatasetRegistryTest, ListingMarksImageDatasetsOnlyWithoutOpenCv) {
  for (const auto& entry : dataset_registry().entries()) {
    const bool is_image = entry.name == "imagefolder" || entry.name == "officehome" ||
                          entry.name == "core50";
    const bool marked = entry.description.find("needs OpenCV") != std::string::npos;
    EXPECT_EQ(marked, is_image && !image_datasets_available()) << entry.name;
  }
}

TEST(DatasetRegistryTest, SyntheticNeedsNoFiles) {
  config::RunConfig c;
  c.dataset = "synthetic";
  c.mini_dataset = 40;
  const Dataset d = make_dataset(c);
  EXPECT_EQ(d.images.size(0), 40);
  EXPECT_EQ(d.labels.size(0), 40);
}

}  // namespace
}  // namespace moedil::data
