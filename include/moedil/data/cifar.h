#pragma once
// CIFAR-10 and CIFAR-100, binary version (the *.bin files of cifar-{10,100}-binary.tar.gz).
#include <filesystem>
#include <string>

#include "moedil/data/dataset.h"

namespace moedil::data {

/// CIFAR-10, binary version: root/data_batch_1.bin .. data_batch_5.bin (train) and
/// root/test_batch.bin (test), or the same files in root/cifar-10-batches-bin/ (the folder the
/// archive unpacks to). Each record is 1 label byte then 3072 pixel bytes: 1024 R, 1024 G,
/// 1024 B, each plane row-major 32x32. Class names come from batches.meta.txt (one per line)
/// when present, else the standard 10 names.
/// Returns name "cifar10", images uint8 [N, 3, 32, 32] (the train records in file order, then
/// the test records; N = 60000 for the full set), labels int64 [N] in [0, 10), is_test bool [N]
/// (false for train records, true for test), num_classes 10, class_names [10]; no domain ids.
/// Throws DataError naming the file and the problem: a missing file (the message lists the
/// expected layout), a size that is not a whole number of records, a label >= 10, a meta file
/// without 10 names.
Dataset load_cifar10(const std::filesystem::path& root);

/// CIFAR-100, binary version: root/train.bin and root/test.bin, or the same files in
/// root/cifar-100-binary/. Each record is 1 coarse label byte, 1 fine label byte, then 3072
/// pixel bytes laid out as in CIFAR-10. `labels` is "fine" (100 classes) or "coarse" (20
/// superclasses). Class names come from fine_label_names.txt / coarse_label_names.txt when
/// present, else the standard names.
/// Returns name "cifar100", images uint8 [N, 3, 32, 32] (train then test; N = 60000 for the
/// full set), labels int64 [N] in [0, num_classes), is_test bool [N], num_classes 100 or 20,
/// class_names [num_classes]; no domain ids. Throws ConfigError for another `labels` value and
/// DataError as load_cifar10 (both label bytes are checked: fine < 100, coarse < 20).
Dataset load_cifar100(const std::filesystem::path& root, const std::string& labels);

}  // namespace moedil::data
