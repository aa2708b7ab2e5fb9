#pragma once
// MNIST-style datasets stored as IDX files (train-* and t10k-*, gzipped or raw).
#include <filesystem>
#include <string>

#include "moedil/data/dataset.h"

namespace moedil::data {

/// Where Debian's dataset-fashion-mnist package puts its files.
inline constexpr const char* kFashionMnistDebianRoot = "/usr/share/datasets/fashion-mnist";

/// Loads root/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] and pools train and test
/// (moedil makes its own per-domain splits). `hint` is added to the missing-file error (e.g.
/// which Debian package provides the files). Throws DataError.
Dataset load_idx_dataset(const std::string& name, const std::filesystem::path& root,
                         const std::string& hint);

}  // namespace moedil::data
