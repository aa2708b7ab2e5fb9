#pragma once
// Dataset registry: config `dataset` name -> loader.
#include <functional>
#include <string>

#include "moedil/common/registry.h"
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"

namespace moedil::data {

using DatasetBuilder = std::function<Dataset(const config::RunConfig&)>;

/// Every registered dataset (fashion_mnist, mnist, cifar10, cifar100, imagefolder, officehome,
/// core50, synthetic).
const Registry<DatasetBuilder>& dataset_registry();

/// False in a build without OpenCV (-DMOEDIL_WITH_OPENCV=OFF): the datasets stored as image files
/// (imagefolder, officehome, core50) are then listed but throw DataError when loaded.
bool image_datasets_available();

/// Loads the configured dataset, applies mini_dataset (seeded by seeds.dataset) and computes
/// the normalisation statistics. Throws DataError when files are missing or malformed.
Dataset make_dataset(const config::RunConfig& c);

}  // namespace moedil::data
