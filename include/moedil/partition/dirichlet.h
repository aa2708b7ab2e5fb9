#pragma once
// Label-skewed partitions of one dataset: per class, Dirichlet(alpha) proportions over the
// partitions decide how the class's samples are shared out. Also the portable samplers it uses.
#include <cstdint>
#include <random>
#include <vector>

#include "moedil/common/random.h"  // uniform_open01
#include "moedil/config/run_config.h"
#include "moedil/data/dataset.h"
#include "moedil/partition/domain.h"

namespace moedil::partition {

// Portable samplers: every draw is built from mt19937_64 bits (specified bit for bit by the
// standard) with our own transforms, never std::*_distribution, so a seed gives the same values
// with every standard library. They use std::log, std::exp, std::cos and std::sqrt.

/// Standard normal (Box-Muller from two uniform_open01 draws; the second output is dropped).
double standard_normal(std::mt19937_64& engine);

/// Gamma(shape, 1) (Marsaglia-Tsang; shape < 1 boosted to shape + 1 and scaled by U^(1/shape)).
/// Throws ConfigError unless shape > 0 and finite. May underflow to 0 for very small shapes.
double sample_gamma(std::mt19937_64& engine, double shape);

/// A draw from the symmetric Dirichlet(alpha) over k >= 1 categories: k values >= 0 summing to 1.
/// Normalised in log space, so very small alpha (where the gammas underflow) still works: the
/// mass then sits on one or a few categories. Throws ConfigError unless alpha > 0 and finite.
std::vector<double> sample_dirichlet(std::mt19937_64& engine, double alpha, int64_t k);

/// Splits d (its rows pooled; domain ids, if any, are ignored) into c.num_partitions domains
/// "p0".."p{P-1}" whose class mixes follow, per class, proportions drawn from
/// Dirichlet(partition.alpha) over the partitions: each class's samples, shuffled, are cut by its
/// proportions. A draw that leaves a partition with fewer than partition.min_size samples (or
/// none) is redrawn, up to partition.retries draws in all; then DataError says what to change.
///
/// partition.balanced: every partition takes floor(N / P) samples (the N mod P left over are
/// used by none); the drawn proportions only set each partition's target class mix
/// (proportional to proportion x class size), which a round-robin greedy fill follows as closely
/// as the remaining samples allow. No redraws are needed; DataError when floor(N / P) is below
/// partition.min_size.
///
/// Each partition is split into train and test by split_domain (seed mixed from seeds.partition
/// and the partition index). Domains share d.images and d.labels. All draws come from
/// seeds.partition. Throws ConfigError for bad settings (num_partitions < 1, alpha <= 0,
/// retries < 1) and DataError for labels outside [0, num_classes).
std::vector<Domain> dirichlet_domains(const data::Dataset& d, const config::RunConfig& c);

}  // namespace moedil::partition
