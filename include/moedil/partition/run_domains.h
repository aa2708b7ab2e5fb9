#pragma once
// The domains of a run, with the predecessor's pretraining draw (pretrain.draw "dataset") taken
// out of the data before it is partitioned. The run and `moedil eval` both build their domains
// here, so they see the same splits.
#include <cstdint>
#include <optional>
#include <vector>

#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

struct RunDomains {
  std::vector<Domain> domains;
  /// pretrain.draw "dataset": the drawn samples as a domain "pretrain" whose train_idx holds
  /// all its rows in the order drawn (test_idx empty); nothing otherwise.
  std::optional<Domain> pretraining;
};

/// The predecessor's draw from n samples: min(num_samples, n) rows, uniform, by
/// seeds.pretrain; distinct without replacement, independent draws with it.
std::vector<int64_t> draw_pretraining_rows(int64_t n, const config::RunConfig& c);

/// make_domains(d, c), unless the run pretrains (pretrain.enabled, num_samples > 0) with
/// pretrain.draw "dataset": then the pretraining rows are drawn first from the N rows of d that
/// may train (not the dataset's own test rows under test_split "dataset", not a test_settings
/// domain, only settings' domains when given), and without replacement the domains are made
/// of the other rows with train_frac shrunk by num_samples / N (the predecessor's arithmetic;
/// ConfigError naming pretrain.num_samples when nothing would be left to train on). With
/// replacement the domains are those of all of d.
RunDomains make_run_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
